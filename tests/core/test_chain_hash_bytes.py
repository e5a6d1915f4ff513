"""``chain_hash`` assembles its canonical JSON by hand: the hashes stay byte-identical.

``data/chains-before-issue10.json`` holds two timelines (one plain, one keyed)
written by the kit before ``chain_hash`` stopped re-encoding the payload
through a dict; they must still verify, row by row and as chains.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from incidentkit.serialization import dumps
from incidentkit.timeline import (
    GENESIS_HASH,
    KEYED_PREFIX,
    ChainKey,
    chain_hash,
    row_hash,
    verify_chain,
)

DATA = Path(__file__).parent / "data" / "chains-before-issue10.json"


def _reference(
    previous: str,
    incident_id: object,
    version: object,
    recorded_at: datetime,
    payload: object,
    key: ChainKey | None = None,
) -> str:
    """The hash as written before: the row dict through canonical ``dumps``."""
    row = dumps(
        {
            "incident_id": incident_id,
            "version": version,
            "recorded_at": recorded_at.astimezone(UTC).isoformat(),
            "payload": payload,
        }
    )
    message = f"{previous}\n{row}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return f"{KEYED_PREFIX}{key.key_id}:{hmac.new(key.secret, message, hashlib.sha256).hexdigest()}"


def test_timelines_written_before_still_verify() -> None:
    chains = json.loads(DATA.read_text(encoding="utf-8"))
    assert set(chains) == {"plain", "keyed"}
    for chain in chains.values():
        key = None if chain["key"] is None else ChainKey.from_text(chain["key"], "key")
        iid = chain["incident_id"]
        rows = [
            (r["version"], datetime.fromisoformat(r["recorded_at"]), r["payload"], r["hash"])
            for r in chain["rows"]
        ]
        assert len(rows) >= 7
        previous = GENESIS_HASH
        for version, at, payload, digest in rows:
            assert chain_hash(previous, iid, version, at, payload, key) == digest
            previous = digest
        check = verify_chain(iid, rows, key=key)
        assert check.ok, check
        assert check.head_hash == rows[-1][3]


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)


@given(
    incident_id=texts,
    version=st.integers(min_value=0, max_value=2**62),
    payload=texts,
    micros=st.integers(min_value=0, max_value=10**15),
    keyed=st.booleans(),
)
def test_hash_equals_the_dict_encoding(
    incident_id: str, version: int, payload: str, micros: int, keyed: bool
) -> None:
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    key = ChainKey.from_text("k" * 24, "key") if keyed else None
    assert chain_hash("p" * 64, incident_id, version, at, payload, key) == _reference(
        "p" * 64, incident_id, version, at, payload, key
    )


@given(
    incident_id=texts,
    version=st.integers(min_value=0, max_value=2**62),
    payload=texts,
    micros=st.integers(min_value=0, max_value=10**15),
    offset_minutes=st.integers(min_value=-23 * 60, max_value=23 * 60),
    keyed=st.booleans(),
)
def test_row_hash_of_the_utc_text_is_the_chain_hash(
    incident_id: str, version: int, payload: str, micros: int, offset_minutes: int, keyed: bool
) -> None:
    """The engine formats a command's instant once (in UTC) and hashes every row with it."""
    zone = timezone(timedelta(minutes=offset_minutes))
    at = (datetime(1970, 1, 2, tzinfo=UTC) + timedelta(microseconds=micros)).astimezone(zone)
    key = ChainKey.from_text("k" * 24, "key") if keyed else None
    text = at.astimezone(UTC).isoformat()
    assert row_hash("p" * 64, incident_id, version, text, payload, key) == chain_hash(
        "p" * 64, incident_id, version, at, payload, key
    )


def test_non_str_arguments_take_the_dict_encoding() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    assert chain_hash(GENESIS_HASH, "X", True, at, "{}") == _reference(  # type: ignore[arg-type]
        GENESIS_HASH, "X", True, at, "{}"
    )
