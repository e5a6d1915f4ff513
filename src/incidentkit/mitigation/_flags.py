"""Flip a feature flag through a small client protocol."""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import attrs

from incidentkit.errors import ValidationError
from incidentkit.mitigation._base import ActionPlugin, Verify
from incidentkit.mitigation._model import MitigationContext, MitigationResult

__all__ = [
    "FeatureFlagAction",
    "FeatureFlagClient",
    "FeatureFlagParams",
    "InMemoryFlagClient",
    "JsonFileFlagClient",
]

_FLAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$")


def _check_flag(_inst: object, _attr: object, value: str) -> None:
    if not isinstance(value, str) or not _FLAG.match(value):
        raise ValidationError(
            "flag", f"not a flag name: {value!r} (letters, digits and _ . : / -, up to 200)"
        )


@attrs.frozen
class FeatureFlagParams:
    """Which flag to set, and to what (``enabled: false`` turns a feature off)."""

    flag: str = attrs.field(validator=_check_flag)
    enabled: bool = attrs.field(validator=attrs.validators.instance_of(bool))


@runtime_checkable
class FeatureFlagClient(Protocol):
    """What :class:`FeatureFlagAction` needs from a flag service (LaunchDarkly, Unleash …)."""

    def set_flag(self, name: str, enabled: bool) -> None:
        """Turn ``name`` on or off; raise when the service refuses."""
        ...

    def get_flag(self, name: str) -> bool | None:
        """Return the flag's state, or ``None`` when the flag is unknown."""
        ...


class InMemoryFlagClient:
    """Flags in a dict, thread-safe: for tests, demos and single-process hosts.

    >>> flags = InMemoryFlagClient({"new-payment-flow": True})
    >>> flags.set_flag("new-payment-flow", False)
    >>> flags.get_flag("new-payment-flow"), flags.get_flag("unknown")
    (False, None)
    """

    def __init__(self, initial: Mapping[str, bool] | None = None) -> None:
        self._flags: dict[str, bool] = dict(initial or {})
        self._lock = threading.Lock()

    def set_flag(self, name: str, enabled: bool) -> None:
        """Set ``name``."""
        with self._lock:
            self._flags[name] = enabled

    def get_flag(self, name: str) -> bool | None:
        """Read ``name``."""
        with self._lock:
            return self._flags.get(name)

    def snapshot(self) -> dict[str, bool]:
        """A copy of every flag."""
        with self._lock:
            return dict(self._flags)


class JsonFileFlagClient:
    """Flags in a JSON file (``{"new-payment-flow": false}``) that the host reads.

    Each write goes to a temporary file in the same directory, is flushed to
    disk and then ``os.replace``-d over the original, so a reader sees the old
    file or the new one, never half a file. Writers in one process are
    serialized by a lock; there is **no lock across processes**: two
    processes writing different flags at the same instant can lose one
    update (last writer wins). Run one writer, or use a real flag service.
    A missing file means no flags are set.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, bool]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as err:
            raise ValidationError(str(self.path), f"not valid JSON: {err}") from err
        if not isinstance(data, dict) or not all(isinstance(v, bool) for v in data.values()):
            raise ValidationError(str(self.path), "expected a JSON object of flag: true/false")
        return data

    def read_all(self) -> dict[str, bool]:
        """Every flag in the file."""
        with self._lock:
            return self._read()

    def get_flag(self, name: str) -> bool | None:
        """Read ``name`` from the file."""
        with self._lock:
            return self._read().get(name)

    def set_flag(self, name: str, enabled: bool) -> None:
        """Rewrite the file atomically with ``name`` set."""
        with self._lock:
            flags = self._read()
            flags[name] = enabled
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(flags, handle, indent=2, sort_keys=True)
                    handle.write("\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def _state(value: bool | None) -> str:
    return "unset" if value is None else ("on" if value else "off")


class FeatureFlagAction(ActionPlugin):
    """Turn a feature flag on or off, then read it back.

    The result's data holds ``flag``, ``previous`` and ``current``
    (``on``/``off``/``unset``); a read-back that disagrees fails the result.

    >>> flags = InMemoryFlagClient({"new-payment-flow": True})
    >>> action = FeatureFlagAction(flags).action()
    >>> action.name, action.params_type.__name__
    ('feature_flag', 'FeatureFlagParams')
    """

    params_type = FeatureFlagParams
    description = "Turn a feature flag on or off."

    def __init__(
        self,
        client: FeatureFlagClient,
        *,
        name: str = "feature_flag",
        timeout: timedelta = timedelta(seconds=30),
        verify: Verify | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(name=name, timeout=timeout, verify=verify, description=description)
        if not isinstance(client, FeatureFlagClient):
            raise ValidationError("client", "expected set_flag(name, enabled) and get_flag(name)")
        self.client = client

    def execute(self, context: MitigationContext, params: FeatureFlagParams) -> MitigationResult:
        """Set the flag and confirm it by reading it back."""
        previous = self.client.get_flag(params.flag)
        self.client.set_flag(params.flag, params.enabled)
        current = self.client.get_flag(params.flag)
        data = {"flag": params.flag, "previous": _state(previous), "current": _state(current)}
        if current is not params.enabled:
            return MitigationResult.failed(
                f"flag {params.flag} reads {_state(current)} after setting it "
                f"{_state(params.enabled)}",
                **data,
            )
        return MitigationResult.applied(
            f"flag {params.flag} turned {_state(params.enabled)} (was {_state(previous)})", **data
        )
