"""The embedded store: one SQLite file in WAL mode, stdlib :mod:`sqlite3` only.

URL forms (the ``incidentkit_store`` hook passes the URL through):

* ``sqlite:///incidents.db`` — a path relative to the working directory;
* ``sqlite:////var/lib/app/incidents.db`` — an absolute path;
* ``sqlite://:memory:`` — a private in-memory database (tests, demos);
* query parameters ``synchronous`` (``FULL``, ``NORMAL`` or ``EXTRA``) and
  ``busy_timeout`` (seconds): ``sqlite:///x.db?synchronous=NORMAL&busy_timeout=5``.

How it keeps its promises:

* every write transaction starts with ``BEGIN IMMEDIATE``, so a writer takes
  the write lock before it reads the head version and never meets the
  ``SQLITE_BUSY`` that a deferred read→write upgrade returns without waiting;
* ``PRIMARY KEY (incident_id, version)`` backs the expected-version check;
* ``synchronous=FULL`` by default: an append that returned survives a power
  loss. ``NORMAL`` is an explicit opt-in that trades the last commits before
  an OS crash or power loss (never an application crash) for ~5× fewer fsyncs;
* datetimes are stored as integer microseconds since the Unix epoch (UTC), so
  SQL ordering and range filters are exact;
* one connection per thread (file databases); several processes may share
  the file. ``:memory:`` uses one connection behind a lock.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from incidentkit._redact import mask_url
from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    KeyTaken,
    NotFound,
    StoreError,
    ValidationError,
)
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store._base import (
    IncidentSummary,
    KeyClaim,
    OutboxMessage,
    OutboxRow,
    OutboxState,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
)
from incidentkit.store._checks import (
    check_append,
    check_aware,
    check_claim,
    check_command,
    check_command_id,
    check_incident_id,
    check_key_text,
    check_keys,
    check_mark,
    check_mark_value,
    check_query,
    check_targets,
    enum_values,
)
from incidentkit.store._columns import (
    Codec,
    ColumnKind,
    add_column_sql,
    select_list,
    summary_from_row,
    summary_values,
    upsert_summary_sql,
)
from incidentkit.store._exclusive import FileRangeLocks, ThreadLocks

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

SCHEMA_VERSION = 5
"""The schema version this release writes and understands.

1. events, summaries (services as a JSON array), outbox, meta.
2. ``incidentkit_summary_services`` (one row per incident and service, so the
   ``service`` filter runs on an index) and ``incidentkit_outbox.leased_by``.
3. ``incidentkit_commands``: one row per command id (idempotency key), written
   with the command's events; its primary key refuses a second append.
4. ``incidentkit_summaries.head_hash`` (the chain's head hash at the summary's
   version; see :func:`_upgrade_summary_head_hash`).
5. ``incidentkit_keys``: unique open keys (:class:`~incidentkit.store.KeyClaim`),
   one row per claim; a partial unique index on ``(namespace, key) WHERE open = 1``.
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ALL = SummaryQuery()
_SYNC_MODES = ("FULL", "NORMAL", "EXTRA")
_MEMORY = ":memory:"

_SCHEMA_V1 = """
CREATE TABLE incidentkit_events (
    incident_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    tag TEXT NOT NULL,
    payload TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (incident_id, version)
);
CREATE TABLE incidentkit_summaries (
    incident_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    services TEXT NOT NULL,
    started_at INTEGER,
    detected_at INTEGER,
    declared_at INTEGER,
    acknowledged_at INTEGER,
    mitigated_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER,
    next_due_at INTEGER
);
CREATE INDEX incidentkit_summaries_declared ON incidentkit_summaries (declared_at, incident_id);
CREATE INDEX incidentkit_summaries_status ON incidentkit_summaries (status);
CREATE INDEX incidentkit_summaries_due ON incidentkit_summaries (next_due_at)
    WHERE next_due_at IS NOT NULL;
CREATE TABLE incidentkit_outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX incidentkit_outbox_pending ON incidentkit_outbox (available_at)
    WHERE state = 'pending';
CREATE INDEX incidentkit_outbox_incident ON incidentkit_outbox (incident_id);
"""

_SCHEMA_V2 = """
ALTER TABLE incidentkit_outbox ADD COLUMN leased_by TEXT;
CREATE TABLE incidentkit_summary_services (
    service TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (service, incident_id)
);
CREATE INDEX incidentkit_summary_services_incident ON incidentkit_summary_services (incident_id);
"""

_SCHEMA_V3 = """
CREATE TABLE incidentkit_commands (
    command_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    events INTEGER NOT NULL
);
CREATE INDEX incidentkit_commands_incident ON incidentkit_commands (incident_id, version);
"""

_SCHEMA_V5 = """
CREATE TABLE incidentkit_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    open INTEGER NOT NULL
);
CREATE UNIQUE INDEX incidentkit_keys_open ON incidentkit_keys (namespace, key) WHERE open = 1;
CREATE INDEX incidentkit_keys_last ON incidentkit_keys (namespace, key, id);
"""

_SUMMARY_COLUMNS = select_list()


def _mark_key(namespace: str, name: str) -> str:
    """Where a mark lives in ``incidentkit_meta`` (the schema version is ``schema_version``)."""
    return f"mark/{namespace}/{name}"


_OUTBOX_COLUMNS = (
    "id, key, incident_id, topic, target, payload, state, attempts, available_at, "
    "created_at, lease_until, last_error"
)
_INSERT_EVENT = (
    "INSERT INTO incidentkit_events (incident_id, version, tag, payload, recorded_at, hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_OUTBOX = (
    "INSERT INTO incidentkit_outbox (key, incident_id, topic, target, payload, state, "
    "attempts, available_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) "
    "ON CONFLICT (key) DO NOTHING"
)


@functools.lru_cache(maxsize=1024)
def _dt(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _opt_dt(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _services_json(services: tuple[str, ...]) -> str:
    """The stored JSON list of ``services`` (the same few tuples recur on every append)."""
    return json.dumps(list(services))


_CODEC = Codec(
    placeholder="?",
    time_out=lambda value: None if value is None else (value - _EPOCH) // _US,
    time_in=_opt_dt,
    services_out=_services_json,
    services_in=lambda text: tuple(json.loads(text)),
    types={
        ColumnKind.TEXT: "TEXT",
        ColumnKind.INTEGER: "INTEGER",
        ColumnKind.STATUS: "TEXT",
        ColumnKind.SEVERITY: "TEXT",
        ColumnKind.SERVICES: "TEXT",
        ColumnKind.TIME: "INTEGER",
    },
)
_UPSERT_SUMMARY = upsert_summary_sql("incidentkit_summaries", _CODEC)


class _Writing:
    """``with store._writing() as conn``: one ``BEGIN IMMEDIATE`` transaction.

    Commits when the block ends, rolls back on any error (a ``sqlite3.Error``
    becomes a :class:`StoreError` saying nothing was written). A class, not a
    generator context manager: every append goes through it.
    """

    __slots__ = ("conn", "lock", "store")

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.lock = store._memory_lock if store.memory else None

    def __enter__(self) -> sqlite3.Connection:
        if self.lock is not None:
            self.lock.acquire()
        try:
            conn = self.conn = self.store._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise StoreError(
                    f"{self.store.url}: could not take the write lock within busy_timeout="
                    f"{self.store.busy_timeout.total_seconds():g}s: {err}"
                ) from err
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        return conn

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        conn = self.conn
        try:
            if exc is None:
                try:
                    conn.execute("COMMIT")
                    return
                except BaseException as failed:
                    exc = failed
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self.store._error(exc, wrote=True) from exc
            if kind is None:  # COMMIT itself failed with something else
                raise exc
        finally:
            if self.lock is not None:
                self.lock.release()


_forks = [0]
"""How many forks this process is away from where it started (each child counts one more).

A store compares it with the count it saw, instead of calling ``getpid()``
(a system call) on every use of its connection.
"""


def _count_fork() -> None:
    _forks[0] += 1


os.register_at_fork(after_in_child=_count_fork)


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced, so a finished thread's one is freed."""


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _opt_micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _US


def parse_sqlite_url(url: str) -> tuple[str, dict[str, str]]:
    """Split ``sqlite:///path?x=y`` into the database path and its query parameters.

    >>> parse_sqlite_url("sqlite:///data/incidents.db")
    ('data/incidents.db', {})
    >>> parse_sqlite_url("sqlite:////var/lib/incidents.db?synchronous=NORMAL")
    ('/var/lib/incidents.db', {'synchronous': 'NORMAL'})
    >>> parse_sqlite_url("sqlite://:memory:")
    (':memory:', {})

    :raises ValidationError: (field ``url``) when the URL is not one of these forms.
    """
    if not url.startswith("sqlite://"):
        raise ValidationError("url", f"{mask_url(url)!r} is not a sqlite:// URL")
    rest = url[len("sqlite://") :]
    rest, _, query = rest.partition("?")
    if rest in (_MEMORY, "/" + _MEMORY):
        path = _MEMORY
    elif rest.startswith("/") and len(rest) > 1:
        path = rest[1:]
    else:
        raise ValidationError(
            "url",
            f"{mask_url(url)!r} names no file; use sqlite:///relative.db, "
            "sqlite:////absolute/path.db or sqlite://:memory:",
        )
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        params[key] = value
    return path, params


class SqliteStore:
    """A :class:`~incidentkit.store.Store` in one SQLite file (URL ``sqlite:///path``).

    Args:
        path_or_url: a ``sqlite://`` URL, a filesystem path, or ``":memory:"``.
        synchronous: ``"FULL"`` (default; every commit is fsynced before
            :meth:`append` returns), ``"NORMAL"`` (opt-in: faster, but the last
            commits may roll back after a power loss or OS crash) or ``"EXTRA"``.
        busy_timeout: how long a writer waits for another writer's lock before
            :class:`~incidentkit.errors.StoreError` is raised.

    URL query parameters ``synchronous`` and ``busy_timeout`` (seconds) take
    precedence over the keyword arguments.

    >>> store = SqliteStore("sqlite://:memory:")
    >>> store.migrate()
    >>> store.version("INC-1")
    0
    >>> store.close()

    :raises ValidationError: a malformed URL or parameter, naming it.
    :raises StoreError: the file cannot be opened as a SQLite database.
    """

    supports_processes = True

    def __init__(
        self,
        path_or_url: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        busy_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        params: dict[str, str] = {}
        if isinstance(path_or_url, os.PathLike):
            path = os.fspath(path_or_url)
        elif isinstance(path_or_url, str):
            if path_or_url.startswith("sqlite:"):
                path, params = parse_sqlite_url(path_or_url)
            else:
                path = path_or_url
        else:
            raise ValidationError(
                "path_or_url", f"expected a str or path, got {type(path_or_url).__name__}"
            )
        if not path:
            raise ValidationError("path_or_url", "empty database path")
        unknown = sorted(set(params) - {"synchronous", "busy_timeout"})
        if unknown:
            raise ValidationError(
                f"url.{unknown[0]}", "unknown parameter (known: busy_timeout, synchronous)"
            )
        if "synchronous" in params:
            synchronous = params["synchronous"]
        if "busy_timeout" in params:
            try:
                busy_timeout = timedelta(seconds=float(params["busy_timeout"]))
            except ValueError as err:
                raise ValidationError(
                    "url.busy_timeout", f"expected seconds, got {params['busy_timeout']!r}"
                ) from err
        if not isinstance(synchronous, str) or synchronous.upper() not in _SYNC_MODES:
            raise ValidationError(
                "synchronous", f"{synchronous!r} is not one of {', '.join(_SYNC_MODES)}"
            )
        if not isinstance(busy_timeout, timedelta) or busy_timeout < timedelta(0):
            raise ValidationError("busy_timeout", "expected a timedelta >= 0")
        self.path = path
        self.synchronous = synchronous.upper()
        self.busy_timeout = busy_timeout
        self.memory = path == _MEMORY
        if self.memory:
            self.url = "sqlite://:memory:"
            self.supports_processes = False
        else:
            self.url = mask_url("sqlite:///" + path)
        self._local = threading.local()
        # weak: a thread's connection closes when the thread (and its local) goes away
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._registry_lock = threading.Lock()
        self._memory_lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        # incident id -> (version, services) of the summary this store last
        # committed; an append at that version keeps the service rows.
        self._services_at: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._forks = _forks[0]
        self._closed = False
        self._exclusive: ThreadLocks | FileRangeLocks = (
            ThreadLocks() if self.memory else FileRangeLocks(path + "-incidentkit.lock")
        )
        self._connection()  # fail now, not at the first append, on a bad path

    # -- connections ---------------------------------------------------------

    def _open(self) -> _Connection:
        seconds = self.busy_timeout.total_seconds()
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=seconds,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open SQLite database {self.path!r}: {err}") from err
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
            if not self.memory:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as err:
            conn.close()
            raise StoreError(f"cannot open SQLite database {self.path!r}: {err}") from err
        with self._registry_lock:
            self._connections.add(conn)
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"store {self.url} is closed")
        if _forks[0] != self._forks:
            # A forked child must not use its parent's connections; open its own.
            self._forks = _forks[0]
            self._local = threading.local()
            self._shared = None
            with self._registry_lock:
                self._connections = weakref.WeakSet()
        if self.memory:
            if self._shared is None:
                self._shared = self._open()
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        lock = self._memory_lock if self.memory else contextlib.nullcontext()
        with lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as err:
                raise self._error(err, wrote=False) from err

    def _writing(self) -> _Writing:
        """One ``BEGIN IMMEDIATE`` transaction: commit on success, roll back on any error."""
        return _Writing(self)

    def _error(self, err: sqlite3.Error, *, wrote: bool) -> StoreError:
        text = str(err)
        hint = " (run migrate() first)" if "no such table" in text else ""
        tail = "; the transaction was rolled back, nothing was written" if wrote else ""
        return StoreError(f"{self.url}: {text}{hint}{tail}")

    # -- schema --------------------------------------------------------------

    def schema_version(self) -> int:
        """Return the schema version recorded in the database (0: none yet)."""
        with self._reading() as conn:
            return self._read_schema_version(conn)

    def _read_schema_version(self, conn: sqlite3.Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'incidentkit_meta'"
        ).fetchone()
        if exists is None:
            return 0
        row = conn.execute(
            "SELECT value FROM incidentkit_meta WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            return 0
        try:
            return int(row[0])
        except (TypeError, ValueError) as err:
            raise StoreError(f"{self.url}: unreadable schema version {row[0]!r}") from err

    def migrate(self) -> None:
        """Create or upgrade the schema in one transaction; idempotent.

        :raises StoreError: the database was written by a newer incidentkit.
        """
        with self._writing() as conn:
            current = self._read_schema_version(conn)
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.url} has incidentkit schema version {current}, newer than the "
                    f"version {SCHEMA_VERSION} this incidentkit understands; upgrade incidentkit "
                    "(nothing was changed)"
                )
            if current == SCHEMA_VERSION:
                return
            conn.execute(
                "CREATE TABLE IF NOT EXISTS incidentkit_meta "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            if current < 1:
                _run_script(conn, _SCHEMA_V1)
            if current < 2:
                _run_script(conn, _SCHEMA_V2)
                rows = conn.execute(
                    "SELECT incident_id, services FROM incidentkit_summaries"
                ).fetchall()
                conn.executemany(
                    "INSERT OR IGNORE INTO incidentkit_summary_services (service, incident_id) "
                    "VALUES (?, ?)",
                    [
                        (service, incident)
                        for incident, text in rows
                        for service in json.loads(text)
                    ],
                )
            if current < 3:
                _run_script(conn, _SCHEMA_V3)
            if current < 4:
                _upgrade_summary_head_hash(conn)
            if current < 5:
                _run_script(conn, _SCHEMA_V5)
            conn.execute(
                "INSERT INTO incidentkit_meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    # -- events --------------------------------------------------------------

    def append(
        self,
        incident_id: str,
        events: Sequence[StoredEvent],
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
        summary: IncidentSummary | None = None,
        command: StoredCommand | None = None,
        keys: Sequence[KeyClaim] = (),
    ) -> None:
        """Append events, outbox rows, the summary, the command and key claims in one transaction.

        The transaction is a ``BEGIN IMMEDIATE``; see :class:`~incidentkit.store.KeyStore`.

        :raises KeyTaken: another incident holds a claimed key open; nothing written.

        :raises DuplicateCommand: ``command.command_id`` is already stored; nothing written.
        :raises ConcurrencyConflict: the incident is not at ``expected_version``; nothing written.
        :raises StoreError: the batch is not contiguous, or the database failed; nothing written.
        :raises ValidationError: a naive datetime or a mismatched summary, naming the field.
        """
        check_append(incident_id, events, expected_version, outbox, summary, times=False)
        check_command(incident_id, events, expected_version, command)
        claims = check_keys(incident_id, keys)
        summary_row = None if summary is None else summary_values(summary, _CODEC)
        event_rows = [
            (e.incident_id, e.version, e.tag, e.payload, _micros(e.recorded_at), e.hash)
            for e in events
        ]
        outbox_rows = [
            (
                m.key,
                m.incident_id,
                m.topic,
                m.target,
                m.payload,
                _micros(m.available_at),
                _micros(m.available_at),
            )
            for m in outbox
        ]
        with self._writing() as conn:
            if command is not None:
                try:  # the primary key, not a lookup, refuses a second append of a command
                    conn.execute(
                        "INSERT INTO incidentkit_commands "
                        "(command_id, incident_id, action, version, events) VALUES (?, ?, ?, ?, ?)",
                        (
                            command.command_id,
                            incident_id,
                            command.action,
                            command.version,
                            command.events,
                        ),
                    )
                except sqlite3.IntegrityError as err:
                    raise DuplicateCommand(command.command_id) from err
            row = conn.execute(
                "SELECT MAX(version) FROM incidentkit_events WHERE incident_id = ?",
                (incident_id,),
            ).fetchone()
            actual = row[0] or 0
            if actual != expected_version:
                raise ConcurrencyConflict(incident_id, expected_version, actual)
            for claim in claims:
                self._apply_claim(conn, claim)
            try:
                conn.executemany(_INSERT_EVENT, event_rows)
            except sqlite3.IntegrityError as err:  # only if another writer broke the lock rules
                raise ConcurrencyConflict(
                    incident_id, expected_version, self._head(conn, incident_id)
                ) from err
            if outbox_rows:
                conn.executemany(_INSERT_OUTBOX, outbox_rows)
            if summary is not None:
                assert summary_row is not None
                self._write_summary(conn, summary, summary_row, expected_version)
        if summary is not None and event_rows:
            # Committed: the version these events end at (only one append can
            # write it) holds these service rows.
            if len(self._services_at) >= 4096:
                self._services_at.clear()
            self._services_at[incident_id] = (
                expected_version + len(event_rows),
                tuple(summary.services),
            )
        elif summary is not None:
            self._services_at.pop(incident_id, None)

    @staticmethod
    def _apply_claim(conn: sqlite3.Connection, claim: KeyClaim) -> None:
        if claim.release:
            conn.execute(
                "UPDATE incidentkit_keys SET open = 0 "
                "WHERE namespace = ? AND key = ? AND incident_id = ? AND open = 1",
                (claim.namespace, claim.key, claim.incident_id),
            )
            return
        inserted = conn.execute(  # the unique index on open keys decides, not a prior read
            "INSERT INTO incidentkit_keys (namespace, key, incident_id, open) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (namespace, key) WHERE open = 1 DO NOTHING",
            (claim.namespace, claim.key, claim.incident_id),
        ).rowcount
        if inserted:
            return
        row = conn.execute(
            "SELECT incident_id FROM incidentkit_keys WHERE namespace = ? AND key = ? AND open = 1",
            (claim.namespace, claim.key),
        ).fetchone()
        if row is not None and row[0] != claim.incident_id:
            raise KeyTaken(claim.namespace, claim.key, str(row[0]))

    def key_holder(self, namespace: str, key: str, *, released: bool = False) -> str | None:
        """The incident holding the key open (with ``released``: the last to claim it)."""
        check_key_text(namespace, "namespace")
        check_key_text(key, "key")
        where = "" if released else " AND open = 1"
        with self._reading() as conn:
            row = conn.execute(
                "SELECT incident_id FROM incidentkit_keys WHERE namespace = ? AND key = ?"
                f"{where} ORDER BY id DESC LIMIT 1",
                (namespace, key),
            ).fetchone()
        return None if row is None else str(row[0])

    # -- marks (in incidentkit_meta, under "mark/<namespace>/<name>") --------

    def mark(self, namespace: str, name: str) -> str | None:
        """The mark's value, or ``None`` when it was never written."""
        key = _mark_key(*check_mark(namespace, name))
        with self._reading() as conn:
            row = conn.execute(
                "SELECT value FROM incidentkit_meta WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def marks(self, namespace: str) -> dict[str, str]:
        """Every mark of ``namespace``, by name."""
        prefix = _mark_key(check_mark(namespace, "-")[0], "")
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT key, value FROM incidentkit_meta WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            ).fetchall()
        return {str(k)[len(prefix) :]: str(v) for k, v in rows}

    def put_mark(self, namespace: str, name: str, value: str, *, expected: str | None) -> bool:
        """Write ``value`` if the mark holds ``expected`` (``None``: absent); whether it wrote."""
        key = _mark_key(*check_mark(namespace, name))
        check_mark_value(value, "value")
        if expected is not None:
            check_mark_value(expected, "expected")
        with self._writing() as conn:
            if expected is None:
                cursor = conn.execute(
                    "INSERT INTO incidentkit_meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (key, value),
                )
            else:
                cursor = conn.execute(
                    "UPDATE incidentkit_meta SET value = ? WHERE key = ? AND value = ?",
                    (value, key, expected),
                )
            return cursor.rowcount == 1

    @staticmethod
    def _head(conn: sqlite3.Connection, incident_id: str) -> int:
        row = conn.execute(
            "SELECT MAX(version) FROM incidentkit_events WHERE incident_id = ?", (incident_id,)
        ).fetchone()
        return int(row[0] or 0)

    def _write_summary(
        self,
        conn: sqlite3.Connection,
        summary: IncidentSummary,
        row: tuple[object, ...],
        expected_version: int,
    ) -> None:
        """Upsert the summary; rewrite its service rows unless they are already these.

        The append has checked the incident is at ``expected_version``; when this
        store committed that version's summary with the same services, the
        rows in ``incidentkit_summary_services`` are already right.
        """
        conn.execute(_UPSERT_SUMMARY, row)
        if self._services_at.get(summary.incident_id) == (
            expected_version,
            tuple(summary.services),
        ):
            return
        conn.execute(
            "DELETE FROM incidentkit_summary_services WHERE incident_id = ?",
            (summary.incident_id,),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO incidentkit_summary_services (service, incident_id) "
            "VALUES (?, ?)",
            [(service, summary.incident_id) for service in summary.services],
        )

    def load(self, incident_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the incident's events after ``after_version`` in version order."""
        check_incident_id(incident_id)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT version, tag, payload, recorded_at, hash FROM incidentkit_events "
                "WHERE incident_id = ? AND version > ? ORDER BY version",
                (incident_id, after_version),
            ).fetchall()
        return [
            StoredEvent(
                incident_id=incident_id,
                version=version,
                tag=tag,
                payload=payload,
                recorded_at=_EPOCH + timedelta(microseconds=recorded),
                hash=digest,
            )
            for version, tag, payload, recorded, digest in rows
        ]

    def command(self, command_id: str) -> StoredCommand | None:
        """Return the stored command with this id, or ``None``."""
        check_command_id(command_id, "command_id")
        with self._reading() as conn:
            row = conn.execute(
                "SELECT incident_id, action, version, events FROM incidentkit_commands "
                "WHERE command_id = ?",
                (command_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredCommand(command_id, row[0], row[1], int(row[2]), int(row[3]))

    def version(self, incident_id: str) -> int:
        """Return the incident's latest version (0 when unknown)."""
        check_incident_id(incident_id)
        with self._reading() as conn:
            return self._head(conn, incident_id)

    def incident_ids(self) -> list[str]:
        """Return every incident id that has events, sorted."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT DISTINCT incident_id FROM incidentkit_events ORDER BY incident_id"
            ).fetchall()
        return [r[0] for r in rows]

    # -- summaries -----------------------------------------------------------

    def summary(self, incident_id: str) -> IncidentSummary | None:
        """Return one incident's summary, or ``None``."""
        check_incident_id(incident_id)
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM incidentkit_summaries WHERE incident_id = ?",
                (incident_id,),
            ).fetchone()
        return None if row is None else self._summary(row)

    def summaries(self, query: SummaryQuery = _ALL) -> list[IncidentSummary]:
        """Return summaries matching ``query`` (filtered in SQL), by declared_at then id."""
        check_query(query)
        clauses: list[str] = []
        params: list[Any] = []
        if query.statuses is not None:
            statuses = enum_values(Status, query.statuses, "query.statuses")
            if not statuses:
                return []
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if query.severities is not None:
            severities = enum_values(Severity, query.severities, "query.severities")
            if not severities:
                return []
            clauses.append(f"severity IN ({', '.join('?' * len(severities))})")
            params.extend(severities)
        if query.service is not None:
            clauses.append(
                "incident_id IN (SELECT incident_id FROM incidentkit_summary_services "
                "WHERE service = ?)"
            )
            params.append(query.service)
        if query.since is not None:
            clauses.append("declared_at >= ?")
            params.append(_micros(query.since))
        if query.until is not None:
            clauses.append("declared_at < ?")
            params.append(_micros(query.until))
        if query.due_before is not None:
            clauses.append("next_due_at <= ?")
            params.append(_micros(query.due_before))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = ""
        if query.limit is not None:
            limit = " LIMIT ?"
            params.append(query.limit)
        # Left to itself the planner reads every open incident through the status
        # index (or scans in declared_at order); tick() asks for the few that are
        # due, so go through the partial next_due_at index.
        hint = " INDEXED BY incidentkit_summaries_due" if query.due_before is not None else ""
        sql = (
            f"SELECT {_SUMMARY_COLUMNS} FROM incidentkit_summaries{hint}{where} "
            f"ORDER BY declared_at, incident_id{limit}"
        )
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._summary(row) for row in rows]

    def _summary(self, row: tuple[Any, ...]) -> IncidentSummary:
        return summary_from_row(row, _CODEC, self.url)

    # -- outbox --------------------------------------------------------------

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        worker: str,
        *,
        targets: Mapping[str, Collection[str]] | None = None,
    ) -> list[OutboxRow]:
        """Lease up to ``limit`` due rows of ``targets`` to ``worker`` (one ``BEGIN IMMEDIATE``)."""
        now = check_claim(now, limit, lease)
        wanted = check_targets(targets)
        if limit == 0 or wanted == {}:
            self._connection()
            return []
        at = _micros(now)
        until = _micros(now + lease)
        only = ""
        chosen: list[str] = []
        if wanted is not None:
            clauses = []
            for topic, names in sorted(wanted.items()):
                clauses.append(f"(topic = ? AND target IN ({', '.join('?' * len(names))}))")
                chosen += [topic, *sorted(names)]
            only = f"AND ({' OR '.join(clauses)}) "
        with self._writing() as conn:
            rows = conn.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM incidentkit_outbox "
                "WHERE state = 'pending' AND available_at <= ? "
                f"AND (lease_until IS NULL OR lease_until <= ?) {only}ORDER BY id LIMIT ?",
                (at, at, *chosen, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE incidentkit_outbox SET attempts = attempts + 1, lease_until = ?, "
                "leased_by = ? WHERE id = ?",
                [(until, worker, row[0]) for row in rows],
            )
        claimed: list[OutboxRow] = []
        for row in rows:
            fresh = (*row[:7], row[7] + 1, row[8], row[9], until, row[11])
            claimed.append(self._outbox_row(fresh))
        return claimed

    def complete(self, row_id: int, *, worker: str | None = None) -> bool:
        """Mark a row done; with ``worker``, only while it still holds the lease.

        :raises NotFound: no outbox row has this id.
        """
        return self._update_row(row_id, "state = 'done', lease_until = NULL", (), worker)

    def complete_many(self, row_ids: Sequence[int], *, worker: str | None = None) -> list[bool]:
        """:meth:`complete` of each row in one transaction; whether each applied, in order.

        :raises NotFound: some id is no outbox row; the transaction is rolled
            back, nothing is changed.
        """
        sql = "UPDATE incidentkit_outbox SET state = 'done', lease_until = NULL WHERE id = ?"
        if worker is not None:
            sql += " AND state = 'pending' AND leased_by = ?"
        applied: list[bool] = []
        with self._writing() as conn:
            for row_id in row_ids:
                args: tuple[Any, ...] = (row_id,) if worker is None else (row_id, worker)
                if conn.execute(sql, args).rowcount:
                    applied.append(True)
                    continue
                found = conn.execute(
                    "SELECT 1 FROM incidentkit_outbox WHERE id = ?", (row_id,)
                ).fetchone()
                if found is None:
                    raise NotFound("outbox row", str(row_id))
                applied.append(False)
        return applied

    def fail(
        self, row_id: int, error: str, retry_at: datetime | None, *, worker: str | None = None
    ) -> bool:
        """Record a failed attempt: retry at ``retry_at``, or mark the row dead when ``None``.

        With ``worker``, only while it still holds the lease.

        :raises NotFound: no outbox row has this id.
        :raises ValidationError: ``retry_at`` is naive.
        """
        if retry_at is None:
            return self._update_row(
                row_id, "state = 'dead', lease_until = NULL, last_error = ?", (error,), worker
            )
        retry = check_aware(retry_at, "retry_at")
        return self._update_row(
            row_id,
            "available_at = ?, lease_until = NULL, last_error = ?",
            (_micros(retry), error),
            worker,
        )

    def _update_row(
        self, row_id: int, assignments: str, params: tuple[Any, ...], worker: str | None
    ) -> bool:
        sql = f"UPDATE incidentkit_outbox SET {assignments} WHERE id = ?"
        args: tuple[Any, ...] = (*params, row_id)
        if worker is not None:
            sql += " AND state = 'pending' AND leased_by = ?"
            args = (*args, worker)
        with self._writing() as conn:
            if conn.execute(sql, args).rowcount:
                return True
            found = conn.execute(
                "SELECT 1 FROM incidentkit_outbox WHERE id = ?", (row_id,)
            ).fetchone()
        if found is None:
            raise NotFound("outbox row", str(row_id))
        return False

    def outbox(self, incident_id: str | None = None) -> list[OutboxRow]:
        """Return outbox rows (all states) in id order."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM incidentkit_outbox"
        params: tuple[Any, ...] = ()
        if incident_id is not None:
            sql += " WHERE incident_id = ?"
            params = (incident_id,)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [self._outbox_row(row) for row in rows]

    def _outbox_row(self, row: Sequence[Any]) -> OutboxRow:
        try:
            return OutboxRow(
                id=row[0],
                key=row[1],
                incident_id=row[2],
                topic=row[3],
                target=row[4],
                payload=row[5],
                state=OutboxState(row[6]),
                attempts=row[7],
                available_at=_dt(row[8]),
                created_at=_dt(row[9]),
                lease_until=_opt_dt(row[10]),
                last_error=row[11],
            )
        except (ValueError, TypeError) as err:
            raise StoreError(f"{self.url}: unreadable outbox row {row[0]!r}: {err}") from err

    # -- lifecycle -----------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self, incident_id: str) -> Iterator[None]:
        """Hold the incident's writer lock across threads and processes.

        A byte-range lock in ``<database>-incidentkit.lock``; the engine takes
        it only after losing a version race on the incident.
        """
        with self._exclusive.hold(incident_id):
            yield

    def close(self) -> None:
        """Close every connection this store opened; the store is unusable afterwards."""
        self._closed = True
        with self._registry_lock:
            connections = list(self._connections)
            self._connections = weakref.WeakSet()
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.url!r}, synchronous={self.synchronous!r})"


def _upgrade_summary_head_hash(conn: sqlite3.Connection) -> None:
    """Schema 4: add ``incidentkit_summaries.head_hash`` and fill it from the events.

    Each summary gets the hash of its incident's row at the summary's version,
    as the kit would have written it; a summary whose version has no row keeps
    ``NULL``, which verification reports.
    """
    conn.execute(add_column_sql("incidentkit_summaries", "head_hash", _CODEC))
    conn.execute(
        "UPDATE incidentkit_summaries SET head_hash = (SELECT e.hash FROM incidentkit_events e "
        "WHERE e.incident_id = incidentkit_summaries.incident_id "
        "AND e.version = incidentkit_summaries.version)"
    )


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one (``executescript`` would commit our transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
