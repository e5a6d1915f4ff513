"""The one place secrets are masked: store URLs, DSNs, error texts and exceptions.

:func:`mask_url` is what every store shows as its ``url`` and ``repr``;
:func:`url_secrets` lists the secret parts of a URL so that
:func:`redact_error` can scrub them from any error built around it (a
driver's message may quote the connection string it could not parse).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

__all__ = ["MASK", "mask_url", "redact_error", "scrub", "url_secrets"]

MASK = "***"

# userinfo of scheme://user:password@host; the password runs to the last '@'
# before the path, so an unencoded '@' or ':' in it is masked whole.
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#]*)")
# ?password=... / &sslpassword=... in a URL query (libpq accepts both)
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:password|sslpassword|passwd|pwd|secret|token|api_key|apikey)=)"
    r"(?P<value>[^&#]*)",
    re.IGNORECASE,
)
# password=... in a libpq key=value string, quoted or not
_KV_SECRET = re.compile(
    r"(?P<key>\b(?:password|sslpassword)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)",
    re.IGNORECASE,
)


def _split_userinfo(url: str) -> tuple[str, str, str, str] | None:
    """``(head, user, password, rest)`` when ``url`` has ``user:password@``; else None."""
    match = _USERINFO.match(url)
    if not match or "@" not in match["netloc"]:
        return None
    userinfo, _, host = match["netloc"].rpartition("@")
    user, sep, password = userinfo.partition(":")
    if not sep:
        return None
    return match["head"], user, password, host + url[match.end() :]


def mask_url(url: str) -> str:
    """``url`` with every password or token replaced by ``***``; nothing else changes.

    Handles ``scheme://user:password@host`` (any scheme), secrets in the query
    (``?password=``, ``&sslpassword=``, ``&token=`` …) and libpq
    ``key=value`` strings (``password=...``, quoted or not).

    >>> mask_url("postgresql://app:s3cret@db.internal:5432/incidents")
    'postgresql://app:***@db.internal:5432/incidents'
    >>> mask_url("postgresql://db/incidents?user=app&password=s3cret&sslmode=require")
    'postgresql://db/incidents?user=app&password=***&sslmode=require'
    >>> mask_url("host=db password='s3 cret' dbname=incidents")
    'host=db password=*** dbname=incidents'
    >>> mask_url("sqlite:///var/lib/incidents.db")
    'sqlite:///var/lib/incidents.db'
    """
    if not isinstance(url, str):
        return repr(type(url))
    masked = url
    parts = _split_userinfo(masked)
    if parts is not None:
        head, user, _, rest = parts
        masked = f"{head}{user}:{MASK}@{rest}"
    masked = _QUERY_SECRET.sub(lambda m: m["key"] + MASK, masked)
    if "://" not in url:
        masked = _KV_SECRET.sub(lambda m: m["key"] + MASK, masked)
    return masked


def url_secrets(url: object) -> tuple[str, ...]:
    """The secret values in ``url`` (as written and percent-decoded), for :func:`scrub`.

    >>> url_secrets("postgresql://app:s%40cret@db/x")
    ('s%40cret', 's@cret')
    """
    if not isinstance(url, str):
        return ()
    found: list[str] = []
    parts = _split_userinfo(url)
    if parts is not None:
        found.append(parts[2])
    found += [m["value"] for m in _QUERY_SECRET.finditer(url)]
    if "://" not in url:
        for match in _KV_SECRET.finditer(url):
            value = match["value"]
            found.append(value)
            if value.startswith("'") and value.endswith("'") and len(value) >= 2:
                found.append(re.sub(r"\\(.)", r"\1", value[1:-1]))
    variants: list[str] = []
    for value in found:
        for variant in (value, urllib.parse.unquote(value), urllib.parse.unquote_plus(value)):
            if variant and variant not in variants:
                variants.append(variant)
    return tuple(variants)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (longest first) replaced by ``***``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def _leaks(err: BaseException, secrets: tuple[str, ...]) -> bool:
    """True when ``err``'s text, repr, args or attributes hold a secret.

    Attributes count: psycopg's errors keep the connection's options, the
    password among them, on a private attribute an error reporter may dump.
    """
    try:
        text = f"{err}\n{err!r}\n{err.args!r}\n{getattr(err, '__dict__', {})!r}"
    except Exception:  # a hostile __str__ or __repr__: treat it as leaking
        return True
    return any(secret in text for secret in secrets)


def redact_error(
    err: BaseException, secrets: Iterable[str], *, cause: BaseException | None = None
) -> BaseException:
    """Scrub ``secrets`` from ``err`` in place (args and text attributes) and return it.

    ``cause`` becomes ``err.__cause__`` unless its text (or that of anything
    chained to it) holds a secret; the context is suppressed either way, so a
    traceback or ``logging.exception`` cannot print a driver's message that
    quotes the secret. Raise the result outside the ``except`` block that
    caught ``cause``, or Python sets it as ``__context__`` again.
    """
    wanted = tuple(s for s in secrets if s)
    err.args = tuple(scrub(a, wanted) if isinstance(a, str) else a for a in err.args)
    for name, value in list(getattr(err, "__dict__", {}).items()):
        if isinstance(value, str):
            setattr(err, name, scrub(value, wanted))
    chained, seen, leaking = cause, 0, False
    while chained is not None and seen < 16 and not leaking:
        leaking = _leaks(chained, wanted)
        chained = chained.__cause__ or chained.__context__
        seen += 1
    err.__cause__ = None if leaking else cause
    err.__suppress_context__ = True
    if leaking:
        err.__context__ = None
    return err
