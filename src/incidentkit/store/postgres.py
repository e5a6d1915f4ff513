"""The scale-out store: PostgreSQL through psycopg 3 (``pip install incidentkit[postgres]``).

Every replica of a service points at the same database. What keeps them apart:

* ``PRIMARY KEY (incident_id, version)`` serializes appends: the loser of a
  race gets :class:`~incidentkit.errors.ConcurrencyConflict` with the version
  that won, and writes nothing;
* events, outbox rows and the summary upsert go in ONE transaction, sent in
  one pipelined round trip (``executemany`` inside ``conn.pipeline()``);
* the outbox is claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so two
  workers never take the same row and a crashed worker's rows come back when
  the lease ends;
* a connection the server dropped (``pg_terminate_backend``, failover) is
  replaced on the next call. Reads retry; an append that failed before
  ``COMMIT`` was sent is retried when the connection was lost (nothing can
  have been written) and otherwise says "nothing was written". Once ``COMMIT``
  has left, a failure that is not the server's own refusal of the commit
  (a lost connection, a terminated backend) is checked by reading the rows
  back on a new connection; when they are not visible the append raises
  :class:`~incidentkit.errors.OutcomeUnknown`, never "nothing was written".
  Never a silent partial write;
* ``incidentkit_commands`` holds one row per command id (its primary key
  refuses a second append of the same command, even one in flight), so the
  kit can resolve an unknown outcome by looking the command up.

Times are ``timestamptz`` (the session runs in UTC); tables are named
``incidentkit_*``, optionally inside ``schema``.
"""

from __future__ import annotations

import contextlib
import functools
import re
import select
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from incidentkit._redact import mask_url, redact_error, url_secrets
from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    KeyTaken,
    NotFound,
    OutcomeUnknown,
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
from incidentkit.store._exclusive import ThreadLocks, lock_number

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

SCHEMA_VERSION = 4
"""The PostgreSQL schema version this release writes and understands.

1. events, summaries, outbox, meta.
2. ``incidentkit_commands``: one row per command id, written with its events.
3. ``incidentkit_summaries.head_hash`` (the chain's head hash at the summary's
   version; see :func:`_upgrade_summary_head_hash`).
4. ``incidentkit_keys``: unique open keys (:class:`~incidentkit.store.KeyClaim`),
   one row per claim; a partial unique index on ``(namespace, key) WHERE open``.
"""

T = TypeVar("T")

_ALL = SummaryQuery()
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_INSTALL = "PostgreSQL support needs psycopg: pip install incidentkit[postgres]"

_SUMMARY_COLUMNS = select_list()


def _mark_key(namespace: str, name: str) -> str:
    """Where a mark lives in ``incidentkit_meta`` (the schema version is ``schema_version``)."""
    return f"mark/{namespace}/{name}"


_CODEC = Codec(
    placeholder="%s",
    time_out=lambda value: value,
    time_in=lambda value: value,
    services_out=list,
    services_in=tuple,
    types={
        ColumnKind.TEXT: "text",
        ColumnKind.INTEGER: "integer",
        ColumnKind.STATUS: "text",
        ColumnKind.SEVERITY: "text",
        ColumnKind.SERVICES: "text[]",
        ColumnKind.TIME: "timestamptz",
    },
)
_OUTBOX_COLUMNS = (
    "id, key, incident_id, topic, target, payload, state, attempts, available_at, "
    "created_at, lease_until, last_error"
)


def _schema_sql(p: str) -> list[str]:
    """DDL for schema version 1; ``p`` is the (quoted) schema prefix or ``""``."""
    return [
        f"""CREATE TABLE {p}incidentkit_events (
            incident_id text COLLATE "C" NOT NULL,
            version integer NOT NULL,
            tag text NOT NULL,
            payload text NOT NULL,
            recorded_at timestamptz NOT NULL,
            hash text NOT NULL,
            PRIMARY KEY (incident_id, version))""",
        f"""CREATE TABLE {p}incidentkit_summaries (
            incident_id text COLLATE "C" PRIMARY KEY,
            version integer NOT NULL,
            title text NOT NULL,
            status text NOT NULL,
            severity text NOT NULL,
            services text[] NOT NULL,
            started_at timestamptz,
            detected_at timestamptz,
            declared_at timestamptz,
            acknowledged_at timestamptz,
            mitigated_at timestamptz,
            resolved_at timestamptz,
            closed_at timestamptz,
            next_due_at timestamptz)""",
        f"""CREATE INDEX incidentkit_summaries_declared
            ON {p}incidentkit_summaries (declared_at NULLS FIRST, incident_id)""",
        f"CREATE INDEX incidentkit_summaries_status ON {p}incidentkit_summaries (status)",
        f"""CREATE INDEX incidentkit_summaries_due ON {p}incidentkit_summaries (next_due_at)
            WHERE next_due_at IS NOT NULL""",
        f"""CREATE INDEX incidentkit_summaries_services
            ON {p}incidentkit_summaries USING gin (services)""",
        f"""CREATE TABLE {p}incidentkit_outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key text NOT NULL UNIQUE,
            incident_id text COLLATE "C" NOT NULL,
            topic text NOT NULL,
            target text NOT NULL,
            payload text NOT NULL,
            state text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'done', 'dead')),
            attempts integer NOT NULL DEFAULT 0,
            available_at timestamptz NOT NULL,
            lease_until timestamptz,
            leased_by text,
            last_error text,
            created_at timestamptz NOT NULL)""",
        f"""CREATE INDEX incidentkit_outbox_pending ON {p}incidentkit_outbox (available_at, id)
            WHERE state = 'pending'""",
        f"CREATE INDEX incidentkit_outbox_incident ON {p}incidentkit_outbox (incident_id)",
    ]


def _schema_v2_sql(p: str) -> list[str]:
    """DDL that upgrades version 1 to 2: the command ids (idempotency keys)."""
    return [
        f"""CREATE TABLE {p}incidentkit_commands (
            command_id text COLLATE "C" PRIMARY KEY,
            incident_id text COLLATE "C" NOT NULL,
            action text NOT NULL,
            version integer NOT NULL,
            events integer NOT NULL)""",
        f"""CREATE INDEX incidentkit_commands_incident
            ON {p}incidentkit_commands (incident_id, version)""",
    ]


def _schema_v4_sql(p: str) -> list[str]:
    """DDL that upgrades version 3 to 4: unique open keys."""
    return [
        f"""CREATE TABLE {p}incidentkit_keys (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            namespace text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            incident_id text COLLATE "C" NOT NULL,
            open boolean NOT NULL)""",
        f"""CREATE UNIQUE INDEX incidentkit_keys_open
            ON {p}incidentkit_keys (namespace, key) WHERE open""",
        f"CREATE INDEX incidentkit_keys_last ON {p}incidentkit_keys (namespace, key, id)",
    ]


def _upgrade_summary_head_hash(conn: psycopg.Connection[tuple[Any, ...]], p: str) -> None:
    """Schema 3: add ``incidentkit_summaries.head_hash`` and fill it from the events.

    Each summary gets the hash of its incident's row at the summary's version;
    a summary whose version has no row keeps ``NULL``, which verification reports.
    """
    conn.execute(add_column_sql(f"{p}incidentkit_summaries", "head_hash", _CODEC))
    conn.execute(
        f"UPDATE {p}incidentkit_summaries s SET head_hash = e.hash "
        f"FROM {p}incidentkit_events e "
        "WHERE e.incident_id = s.incident_id AND e.version = s.version"
    )


#: SQLSTATE classes after which a transaction may have committed: connection
#: exceptions, operator intervention (a terminated backend) and internal errors.
_UNKNOWN_CLASSES = frozenset({"08", "57", "58", "XX"})

#: How often an append is tried when the connection is lost before COMMIT.
_APPEND_ATTEMPTS = 3
#: How often a read is tried when the connection is lost.
_READ_ATTEMPTS = 3


def mask_dsn(dsn: str) -> str:
    """Return ``dsn`` with any password replaced by ``***`` (for messages and ``url``).

    The same helper every store uses (:func:`incidentkit.store.mask_url`).

    >>> mask_dsn("postgresql://app:s3cret@db.internal:5432/incidents")
    'postgresql://app:***@db.internal:5432/incidents'
    >>> mask_dsn("host=db password=s3cret dbname=incidents")
    'host=db password=*** dbname=incidents'
    """
    return mask_url(dsn)


class PostgresStore:
    """A :class:`~incidentkit.store.Store` in PostgreSQL (URL ``postgresql://…``).

    Args:
        dsn: a libpq connection string or ``postgresql://`` / ``postgres://`` URL.
        pool: use a :class:`psycopg_pool.ConnectionPool` (``min_size`` …
            ``max_size`` connections) instead of one connection behind a lock.
        min_size: smallest pool size (with ``pool=True``).
        max_size: largest pool size (with ``pool=True``).
        schema: keep the tables in this schema (created by :meth:`migrate`);
            ``None`` uses the connection's ``search_path``.

    :raises StoreError: psycopg is not installed, or the server cannot be reached.
    :raises ValidationError: a bad ``schema``, ``min_size`` or ``max_size``, naming it.
    """

    supports_processes = True

    def __init__(
        self,
        dsn: str,
        *,
        pool: bool = False,
        min_size: int = 1,
        max_size: int = 4,
        schema: str | None = None,
    ) -> None:
        if not isinstance(dsn, str) or not dsn.strip():
            raise ValidationError("dsn", "expected a non-empty connection string")
        if schema is not None and not _IDENT.match(schema):
            raise ValidationError(
                "schema", f"{schema!r} is not a plain SQL identifier (letters, digits, _)"
            )
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValidationError(name, "expected an integer >= 1")
        if min_size > max_size:
            raise ValidationError("min_size", f"{min_size} is larger than max_size={max_size}")
        try:
            import psycopg  # noqa: F401
        except ImportError as err:
            raise StoreError(_INSTALL) from err
        # The raw DSN stays private: url, repr and every error show it masked.
        self._dsn = dsn
        self._secrets = url_secrets(dsn)
        self.url = mask_url(dsn)
        self._check_dsn()
        self.schema = schema
        self._exclusive = ThreadLocks()
        self._p = f'"{schema}".' if schema else ""
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._closed = False
        if pool:
            try:
                import psycopg_pool
            except ImportError as err:
                raise StoreError(_INSTALL) from err
            self._pool = psycopg_pool.ConnectionPool(
                self._dsn,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True},
                configure=self._configure,
                open=False,
                timeout=10.0,
                name=f"incidentkit-{id(self):x}",
            )
            failure: BaseException | None = None
            try:
                self._pool.open(wait=True, timeout=10.0)
            except psycopg_pool.PoolTimeout as err:
                self._pool.close()
                failure = self._connect_error(err)
            if failure is not None:
                raise failure
        else:
            with self._lock:
                self._conn = self._connect()

    # -- connections ---------------------------------------------------------

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SET TIME ZONE 'UTC'")

    def _connect_error(self, err: BaseException, doing: str = "cannot connect to") -> BaseException:
        """A :class:`StoreError` for a failed connection, with the DSN's secrets scrubbed."""
        return redact_error(
            StoreError(f"{doing} {self.url}: {err}".rstrip()), self._secrets, cause=err
        )

    def _check_dsn(self) -> None:
        """Parse the DSN now: a parse error would quote it (a password included)."""
        from psycopg.conninfo import conninfo_to_dict

        failure: BaseException | None = None
        try:
            conninfo_to_dict(self._dsn)
        except Exception as err:  # psycopg.ProgrammingError, or anything the parser raises
            failure = self._connect_error(err, "cannot parse the connection string")
        if failure is not None:
            raise failure

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        failure: BaseException | None = None
        try:
            conn = psycopg.connect(self._dsn, autocommit=True)
            self._configure(conn)
        except psycopg.Error as err:
            failure = self._connect_error(err)
        if failure is not None:
            raise failure
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        if self._closed:
            raise StoreError(f"store {self.url} is closed")
        if self._pool is not None:
            import psycopg_pool

            try:
                with self._pool.connection() as conn:
                    yield conn
            except psycopg_pool.PoolTimeout as err:
                raise StoreError(f"no connection to {self.url}: {err}") from err
            return
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        self._conn.close()
                self._conn = self._connect()
            yield self._conn

    def _discard(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Close a connection whose server side is gone, so the next call reconnects.

        A terminated backend's error can arrive before psycopg marks the
        connection broken; the pool discards such connections by itself.
        """
        if self._pool is not None:
            return
        with self._lock:
            if self._conn is conn:
                with contextlib.suppress(Exception):
                    conn.close()

    def _run(self, fn: Callable[[psycopg.Connection[tuple[Any, ...]]], T], *, retry: bool) -> T:
        """Run ``fn`` on a connection; when the connection was lost, retry once if allowed."""
        import psycopg

        for attempt in range(1, _READ_ATTEMPTS + 1):
            used: list[psycopg.Connection[tuple[Any, ...]]] = []
            try:
                with self._connection() as conn:
                    used.append(conn)
                    return fn(conn)
            except psycopg.OperationalError as err:
                lost = bool(used) and (used[0].closed or used[0].broken)
                if used and _may_have_committed(err):
                    self._discard(used[0])
                    lost = True
                if lost and retry and attempt < _READ_ATTEMPTS:
                    continue
                raise StoreError(f"{self.url}: {err}".rstrip()) from err
            except psycopg.Error as err:
                raise StoreError(f"{self.url}: {err}".rstrip()) from err
        raise AssertionError("unreachable")  # pragma: no cover

    # -- schema --------------------------------------------------------------

    def schema_version(self) -> int:
        """Return the schema version recorded in the database (0: none yet)."""
        return self._run(self._read_schema_version, retry=True)

    def _read_schema_version(self, conn: psycopg.Connection[tuple[Any, ...]]) -> int:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{self._p}incidentkit_meta",)).fetchone()
        if exists is None or exists[0] is None:
            return 0
        row = conn.execute(
            f"SELECT value FROM {self._p}incidentkit_meta WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            return 0
        try:
            return int(row[0])
        except (TypeError, ValueError) as err:
            raise StoreError(f"{self.url}: unreadable schema version {row[0]!r}") from err

    def migrate(self) -> None:
        """Create or upgrade the schema in one transaction; idempotent, safe to race.

        :raises StoreError: the database was written by a newer incidentkit.
        """

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))",
                    (f"incidentkit-migrate:{self.schema or ''}",),
                )
                if self.schema:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                current = self._read_schema_version(conn)
                if current > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.url} has incidentkit schema version {current}, newer than the "
                        f"version {SCHEMA_VERSION} this incidentkit understands; upgrade "
                        "incidentkit (nothing was changed)"
                    )
                if current == SCHEMA_VERSION:
                    return
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._p}incidentkit_meta "
                    "(key text PRIMARY KEY, value text NOT NULL)"
                )
                if current < 1:
                    for statement in _schema_sql(self._p):
                        conn.execute(statement)
                if current < 2:
                    for statement in _schema_v2_sql(self._p):
                        conn.execute(statement)
                if current < 3:
                    _upgrade_summary_head_hash(conn, self._p)
                if current < 4:
                    for statement in _schema_v4_sql(self._p):
                        conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {self._p}incidentkit_meta (key, value) "
                    "VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )

        self._run(run, retry=True)

    def drop_schema(self) -> None:
        """Drop this store's ``schema`` and everything in it (tests use one per test).

        :raises ValidationError: the store was opened without ``schema``.
        """
        if not self.schema:
            raise ValidationError("schema", "drop_schema() needs a store opened with schema=")

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

        self._run(run, retry=True)

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
        """Append events, outbox rows, summary, command and key claims in one transaction.

        The transaction is pipelined; see :class:`~incidentkit.store.KeyStore`.

        :raises KeyTaken: another incident holds a claimed key open (the unique
            index on open keys refused the insert); nothing written.

        :raises DuplicateCommand: ``command.command_id`` is already stored; nothing written.
        :raises ConcurrencyConflict: the incident is not at ``expected_version``; nothing written.
        :raises OutcomeUnknown: the connection failed after ``COMMIT`` was sent and the
            rows are not visible on a new connection: the append may or may not have
            committed (with ``command``, look the command id up to learn which).
        :raises StoreError: the batch is not contiguous, or the database refused or
            failed before the commit; nothing was written.
        :raises ValidationError: a naive datetime or a mismatched summary, naming the field.
        """
        import psycopg

        check_append(incident_id, events, expected_version, outbox, summary, times=False)
        check_command(incident_id, events, expected_version, command)
        claims = check_keys(incident_id, keys)
        p = self._p
        event_rows = [
            (e.incident_id, e.version, e.tag, e.payload, e.recorded_at, e.hash) for e in events
        ]
        outbox_rows = [
            (m.key, m.incident_id, m.topic, m.target, m.payload, m.available_at, m.available_at)
            for m in outbox
        ]
        summary_row = None if summary is None else _summary_params(summary)
        command_row = (
            None
            if command is None
            else (command.command_id, incident_id, command.action, command.version, command.events)
        )
        command_id = None if command is None else command.command_id
        committing = False

        def send(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
            nonlocal committing
            # Unprepared: a statement the server skipped after an error
            # would leave psycopg believing it prepared it.
            execute = conn.cursor().execute
            execute("BEGIN", prepare=False)
            if command_row is not None:  # first: a duplicate command wins over a conflict
                execute(_insert_command_sql(p), command_row, prepare=False)
            execute(_version_check_sql(p), (incident_id, expected_version), prepare=False)
            for sql, params in _batches(_insert_events_sql(p), event_rows):
                execute(sql, params, prepare=False)
            for claim in claims:
                name = (claim.namespace, claim.key, claim.incident_id)
                if claim.release:
                    execute(_release_key_sql(p), name, prepare=False)
                else:  # the unique index on open keys decides, not this read
                    execute(_claim_key_sql(p), (*name, *name), prepare=False)
            for sql, params in _batches(_insert_outbox_sql(p), outbox_rows):
                execute(sql, params, prepare=False)
            if summary_row is not None:
                execute(_upsert_summary_sql(p), summary_row, prepare=False)
            execute("COMMIT", prepare=False)
            # COMMIT leaves with the statements: from here a lost
            # connection no longer proves that nothing was written.
            committing = True

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
            nonlocal committing
            committing = False
            _drop_if_closed_by_server(conn)
            # One round trip: BEGIN, the statements and COMMIT go out in one
            # pipeline ending in one Sync (``conn.transaction()`` would add a
            # round trip for BEGIN and one for COMMIT). The version check is a
            # statement that fails (division by zero) when the incident is not
            # at ``expected_version``; the first failing statement aborts the
            # transaction and the server skips the rest, COMMIT included.
            try:
                _pipelined(conn, send)
            except BaseException:
                _end_aborted(conn)
                raise

        import psycopg.errors

        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            used: list[psycopg.Connection[tuple[Any, ...]]] = []
            try:
                with self._connection() as conn:
                    used.append(conn)
                    run(conn)
                return
            except psycopg.Error as err:
                lost = bool(used) and (used[0].closed or used[0].broken)
                if used and _may_have_committed(err):
                    self._discard(used[0])
                if committing and (lost or _may_have_committed(err)):
                    self._confirm(incident_id, events, err, command_id)
                    return
                if isinstance(err, psycopg.errors.DivisionByZero):  # the version check
                    raise ConcurrencyConflict(
                        incident_id, expected_version, self.version(incident_id)
                    ) from err
                if isinstance(err, psycopg.errors.UniqueViolation):
                    if command_id is not None and err.diag.table_name == "incidentkit_commands":
                        raise DuplicateCommand(command_id) from err
                    if err.diag.table_name == "incidentkit_keys":
                        raise self._taken(claims) from err
                    raise ConcurrencyConflict(
                        incident_id, expected_version, self.version(incident_id)
                    ) from err
                if not lost and not _may_have_committed(err):
                    raise StoreError(f"{self.url}: {err}; nothing was written") from err
                if attempt < _APPEND_ATTEMPTS:
                    continue  # COMMIT never left: the server rolled back; safe to retry
                raise StoreError(
                    f"{self.url}: connection lost {attempt} times before COMMIT was sent; "
                    f"nothing was written ({err})"
                ) from err

    def _confirm(
        self,
        incident_id: str,
        events: Sequence[StoredEvent],
        err: BaseException,
        command_id: str | None = None,
    ) -> None:
        """After a failure once COMMIT was sent: succeed if the rows are there, else raise.

        :raises OutcomeUnknown: the rows are not visible (or cannot be read): the
            transaction may still have committed, or may commit yet.
        """
        first = events[0].version if events else None
        where = f"{incident_id}@{first}" if first is not None else incident_id
        if not events:
            raise OutcomeUnknown(
                incident_id, f"{self.url}: connection lost during COMMIT ({err})", command_id
            ) from err
        try:
            stored = self.load(incident_id, after_version=events[0].version - 1)[: len(events)]
        except StoreError as again:
            raise OutcomeUnknown(
                incident_id,
                f"{self.url}: connection lost during COMMIT of {where} and the check failed "
                f"({again})",
                command_id,
            ) from err
        if [e.hash for e in stored] == [e.hash for e in events]:
            return
        raise OutcomeUnknown(
            incident_id,
            f"{self.url}: connection lost during COMMIT of {where}; the events are not "
            "visible now but the transaction may still commit",
            command_id,
        ) from err

    def load(self, incident_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the incident's events after ``after_version`` in version order."""
        check_incident_id(incident_id)

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT version, tag, payload, recorded_at, hash FROM {self._p}"
                "incidentkit_events WHERE incident_id = %s AND version > %s ORDER BY version",
                (incident_id, after_version),
            ).fetchall()

        return [
            StoredEvent(
                incident_id=incident_id,
                version=version,
                tag=tag,
                payload=payload,
                recorded_at=recorded,
                hash=digest,
            )
            for version, tag, payload, recorded, digest in self._run(run, retry=True)
        ]

    def _taken(self, claims: Sequence[KeyClaim]) -> KeyTaken:
        """The error for a refused key claim: the first key another incident holds."""
        for claim in claims:
            if claim.release:
                continue
            holder = self.key_holder(claim.namespace, claim.key)
            if holder is not None and holder != claim.incident_id:
                return KeyTaken(claim.namespace, claim.key, holder)
        first = next(c for c in claims if not c.release)
        return KeyTaken(first.namespace, first.key, "(released since)")

    def key_holder(self, namespace: str, key: str, *, released: bool = False) -> str | None:
        """The incident holding the key open (with ``released``: the last to claim it)."""
        check_key_text(namespace, "namespace")
        check_key_text(key, "key")
        where = "" if released else " AND open"

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            return conn.execute(
                f"SELECT incident_id FROM {self._p}incidentkit_keys WHERE namespace = %s "
                f"AND key = %s{where} ORDER BY id DESC LIMIT 1",
                (namespace, key),
            ).fetchone()

        row = self._run(run, retry=True)
        return None if row is None else str(row[0])

    # -- marks (in incidentkit_meta, under "mark/<namespace>/<name>") --------

    def mark(self, namespace: str, name: str) -> str | None:
        """The mark's value, or ``None`` when it was never written."""
        key = _mark_key(*check_mark(namespace, name))

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            return conn.execute(
                f"SELECT value FROM {self._p}incidentkit_meta WHERE key = %s", (key,)
            ).fetchone()

        row = self._run(run, retry=True)
        return None if row is None else str(row[0])

    def marks(self, namespace: str) -> dict[str, str]:
        """Every mark of ``namespace``, by name."""
        prefix = _mark_key(check_mark(namespace, "-")[0], "")

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT key, value FROM {self._p}incidentkit_meta "
                "WHERE left(key, %s) = %s ORDER BY key",
                (len(prefix), prefix),
            ).fetchall()

        return {str(k)[len(prefix) :]: str(v) for k, v in self._run(run, retry=True)}

    def put_mark(self, namespace: str, name: str, value: str, *, expected: str | None) -> bool:
        """Write ``value`` if the mark holds ``expected`` (``None``: absent); whether it wrote."""
        key = _mark_key(*check_mark(namespace, name))
        check_mark_value(value, "value")
        if expected is not None:
            check_mark_value(expected, "expected")

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
            with conn.transaction():
                if expected is None:
                    cursor = conn.execute(
                        f"INSERT INTO {self._p}incidentkit_meta (key, value) VALUES (%s, %s) "
                        "ON CONFLICT (key) DO NOTHING",
                        (key, value),
                    )
                else:
                    cursor = conn.execute(
                        f"UPDATE {self._p}incidentkit_meta SET value = %s "
                        "WHERE key = %s AND value = %s",
                        (value, key, expected),
                    )
                return cursor.rowcount == 1

        return self._run(run, retry=False)

    def command(self, command_id: str) -> StoredCommand | None:
        """Return the stored command with this id, or ``None``."""
        check_command_id(command_id, "command_id")

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            return conn.execute(
                f"SELECT incident_id, action, version, events FROM {self._p}"
                "incidentkit_commands WHERE command_id = %s",
                (command_id,),
            ).fetchone()

        row = self._run(run, retry=True)
        if row is None:
            return None
        return StoredCommand(command_id, row[0], row[1], int(row[2]), int(row[3]))

    def version(self, incident_id: str) -> int:
        """Return the incident's latest version (0 when unknown)."""
        check_incident_id(incident_id)

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
            row = conn.execute(
                f"SELECT COALESCE(MAX(version), 0) FROM {self._p}incidentkit_events "
                "WHERE incident_id = %s",
                (incident_id,),
            ).fetchone()
            return 0 if row is None else int(row[0])

        return self._run(run, retry=True)

    def incident_ids(self) -> list[str]:
        """Return every incident id that has events, sorted by code point."""

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> list[str]:
            rows = conn.execute(
                f"SELECT DISTINCT incident_id FROM {self._p}incidentkit_events ORDER BY incident_id"
            ).fetchall()
            return [r[0] for r in rows]

        return self._run(run, retry=True)

    # -- summaries -----------------------------------------------------------

    def summary(self, incident_id: str) -> IncidentSummary | None:
        """Return one incident's summary, or ``None``."""
        check_incident_id(incident_id)

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            return conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM {self._p}incidentkit_summaries "
                "WHERE incident_id = %s",
                (incident_id,),
            ).fetchone()

        row = self._run(run, retry=True)
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
            clauses.append("status = ANY(%s)")
            params.append(statuses)
        if query.severities is not None:
            severities = enum_values(Severity, query.severities, "query.severities")
            if not severities:
                return []
            clauses.append("severity = ANY(%s)")
            params.append(severities)
        if query.service is not None:
            clauses.append("services @> ARRAY[%s]::text[]")
            params.append(query.service)
        if query.since is not None:
            clauses.append("declared_at >= %s")
            params.append(query.since)
        if query.until is not None:
            clauses.append("declared_at < %s")
            params.append(query.until)
        if query.due_before is not None:
            clauses.append("next_due_at <= %s")
            params.append(query.due_before)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = ""
        if query.limit is not None:
            limit = " LIMIT %s"
            params.append(query.limit)
        sql = (
            f"SELECT {_SUMMARY_COLUMNS} FROM {self._p}incidentkit_summaries{where} "
            f"ORDER BY declared_at NULLS FIRST, incident_id{limit}"
        )

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        return [self._summary(row) for row in self._run(run, retry=True)]

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
        """Lease up to ``limit`` due rows of ``targets`` to ``worker`` (``FOR UPDATE SKIP LOCKED``).

        Not retried when the connection dies mid-claim: rows that may have been
        leased come back when their lease ends.
        """
        now = check_claim(now, limit, lease)
        wanted = check_targets(targets)
        if wanted == {}:
            limit = 0  # nothing this worker can handle
        p = self._p
        pairs = sorted((t, n) for t, names in (wanted or {}).items() for n in names)
        only = (
            ""
            if wanted is None
            else "AND (topic, target) IN "
            "(SELECT * FROM unnest(%(topics)s::text[], %(targets)s::text[])) "
        )
        sql = (
            f"WITH due AS (SELECT id FROM {p}incidentkit_outbox "
            "WHERE state = 'pending' AND available_at <= %(now)s "
            f"AND (lease_until IS NULL OR lease_until <= %(now)s) {only}"
            "ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            f"UPDATE {p}incidentkit_outbox AS o SET attempts = o.attempts + 1, "
            "lease_until = %(until)s, leased_by = %(worker)s FROM due WHERE o.id = due.id "
            f"RETURNING {', '.join('o.' + c for c in _OUTBOX_COLUMNS.split(', '))}"
        )
        params = {
            "now": now,
            "limit": limit,
            "until": now + lease,
            "worker": worker,
            "topics": [t for t, _ in pairs],
            "targets": [n for _, n in pairs],
        }

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        rows = self._run(run, retry=False) if limit else []
        return sorted((self._outbox_row(row) for row in rows), key=lambda r: r.id)

    def complete(self, row_id: int, *, worker: str | None = None) -> bool:
        """Mark a row done; with ``worker``, only while it still holds the lease.

        :raises NotFound: no outbox row has this id.
        """
        return self._update_row(row_id, "state = 'done', lease_until = NULL", (), worker)

    def complete_many(self, row_ids: Sequence[int], *, worker: str | None = None) -> list[bool]:
        """:meth:`complete` of each row in one statement; whether each applied, in order.

        :raises NotFound: some id is no outbox row; nothing is changed.
        """
        ids = list(row_ids)
        if not ids:
            return []
        table = f"{self._p}incidentkit_outbox"
        fence = "" if worker is None else " AND state = 'pending' AND leased_by = %(worker)s"
        # One statement (its own transaction): refuses the whole batch when an id is unknown.
        sql = (
            f"WITH known AS (SELECT count(*) AS n FROM {table} WHERE id = ANY(%(ids)s)) "
            f"UPDATE {table} SET state = 'done', lease_until = NULL "
            f"WHERE id = ANY(%(ids)s){fence} AND (SELECT n FROM known) = %(count)s RETURNING id"
        )
        params = {"ids": ids, "worker": worker, "count": len(set(ids))}

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> set[int] | None:
            done = {int(row[0]) for row in conn.execute(sql, params).fetchall()}
            if done:
                return done
            known = conn.execute(f"SELECT id FROM {table} WHERE id = ANY(%s)", (ids,)).fetchall()
            if len({int(row[0]) for row in known}) != len(set(ids)):
                missing = sorted(set(ids) - {int(row[0]) for row in known})
                raise NotFound("outbox row", str(missing[0]))
            return done

        applied = self._run(run, retry=True)  # idempotent update: safe to retry
        assert applied is not None
        return [row_id in applied for row_id in ids]

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
                row_id, "state = 'dead', lease_until = NULL, last_error = %s", (error,), worker
            )
        return self._update_row(
            row_id,
            "available_at = %s, lease_until = NULL, last_error = %s",
            (check_aware(retry_at, "retry_at"), error),
            worker,
        )

    def _update_row(
        self, row_id: int, assignments: str, params: tuple[Any, ...], worker: str | None
    ) -> bool:
        table = f"{self._p}incidentkit_outbox"
        sql = f"UPDATE {table} SET {assignments} WHERE id = %s"
        args: tuple[Any, ...] = (*params, row_id)
        if worker is not None:
            sql += " AND state = 'pending' AND leased_by = %s"
            args = (*args, worker)

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
            if conn.execute(sql, args).rowcount:
                return 1
            exists = conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (row_id,)).fetchone()
            return 0 if exists else -1

        outcome = self._run(run, retry=True)  # idempotent updates: safe to retry
        if outcome < 0:
            raise NotFound("outbox row", str(row_id))
        return outcome == 1

    def outbox(self, incident_id: str | None = None) -> list[OutboxRow]:
        """Return outbox rows (all states) in id order."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM {self._p}incidentkit_outbox"
        params: tuple[Any, ...] = ()
        if incident_id is not None:
            sql += " WHERE incident_id = %s"
            params = (incident_id,)
        sql += " ORDER BY id"

        def run(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        return [self._outbox_row(row) for row in self._run(run, retry=True)]

    def _outbox_row(self, row: tuple[Any, ...]) -> OutboxRow:
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
                available_at=row[8],
                created_at=row[9],
                lease_until=row[10],
                last_error=row[11],
            )
        except (ValueError, TypeError) as err:
            raise StoreError(f"{self.url}: unreadable outbox row {row[0]!r}: {err}") from err

    # -- lifecycle -----------------------------------------------------------

    def backend_pids(self) -> list[int]:
        """Server process ids of this store's open connections (for fault tests)."""
        if self._pool is not None:
            raise StoreError("backend_pids() is only available without pool=True")
        with self._lock:
            if self._conn is None or self._conn.closed:
                return []
            return [self._conn.info.backend_pid]

    @contextlib.contextmanager
    def exclusive(self, incident_id: str) -> Iterator[None]:
        """Hold the incident's writer lock: a session advisory lock on a connection of its own.

        Threads of this process queue on a local lock first; processes and
        machines queue in PostgreSQL (``pg_advisory_lock``). The engine takes
        it only after losing a version race; a lock connection that dies
        releases the lock, and the version check still keeps appends safe.
        """
        import psycopg

        key = lock_number(f"{self.schema or ''}:{incident_id}") - 2**62
        with self._exclusive.hold(incident_id):
            try:
                conn = self._connect()
            except StoreError:
                yield  # no lock to be had: the version check still decides
                return
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            except psycopg.Error:
                conn.close()
                yield
                return
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                conn.close()

    def close(self) -> None:
        """Close the connection or pool; the store is unusable afterwards."""
        self._closed = True
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r}, schema={self.schema!r})"


def _may_have_committed(err: BaseException) -> bool:
    """Whether ``err`` leaves open that the server committed (not a plain refusal).

    A server's ERROR in reply to COMMIT means it rolled back; a lost
    connection, a terminated backend (57P01, a FATAL that can follow a
    commit) or an internal error proves nothing. The connection's broken flag
    is not consulted: it lags the error that a terminated backend sends.
    """
    sqlstate = getattr(err, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] in _UNKNOWN_CLASSES


@functools.cache
def _release_key_sql(p: str) -> str:
    return (
        f"UPDATE {p}incidentkit_keys SET open = false WHERE namespace = %s "
        "AND key = %s AND incident_id = %s AND open"
    )


def _claim_key_sql(p: str) -> str:
    return (
        f"INSERT INTO {p}incidentkit_keys (namespace, key, incident_id, open) "
        f"SELECT %s, %s, %s, true WHERE NOT EXISTS (SELECT 1 FROM {p}"
        "incidentkit_keys WHERE namespace = %s AND key = %s "
        "AND incident_id = %s AND open)"
    )


def _upsert_summary_sql(p: str) -> str:
    return upsert_summary_sql(f"{p}incidentkit_summaries", _CODEC)


@functools.cache
def _version_check_sql(p: str) -> str:
    """One row when the incident is at the expected version, else a division-by-zero error.

    The divisor depends on a subquery, so the server cannot fold it to a
    constant error at plan time.
    """
    return (
        f"SELECT 1 / (CASE WHEN (SELECT COALESCE(MAX(version), 0) FROM {p}incidentkit_events "
        "WHERE incident_id = %s) = %s THEN 1 ELSE 0 END)"
    )


@functools.cache
def _insert_command_sql(p: str) -> str:
    return (
        f"INSERT INTO {p}incidentkit_commands (command_id, incident_id, action, version, events) "
        "VALUES (%s, %s, %s, %s, %s)"
    )


@functools.cache
def _insert_events_sql(p: str) -> str:
    return (
        f"INSERT INTO {p}incidentkit_events (incident_id, version, tag, payload, recorded_at, "
        "hash) VALUES (%s, %s, %s, %s, %s, %s)"
    )


@functools.cache
def _insert_outbox_sql(p: str) -> str:
    return (
        f"INSERT INTO {p}incidentkit_outbox (key, incident_id, topic, target, payload, "
        "available_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (key) DO NOTHING"
    )


_ROWS_PER_INSERT = 500
"""The most rows one multi-row ``INSERT`` of an append carries (7 parameters each at most)."""


@functools.lru_cache(maxsize=256)
def _multi_row_sql(single: str, rows: int) -> str:
    """``single`` (one ``VALUES (%s, …)`` group) with ``rows`` groups, the tail kept."""
    head, _, rest = single.partition(" VALUES (")
    group, _, tail = rest.partition(")")
    values = ", ".join([f"({group})"] * rows)
    return f"{head} VALUES {values}{tail}"


def _batches(single: str, rows: Sequence[tuple[Any, ...]]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The statements that insert ``rows``: one per row for one, else multi-row ``INSERT`` s.

    One statement per row costs psycopg a query conversion and a send each; a
    100-event append is two statements instead of two hundred.
    """
    if len(rows) == 1:
        yield single, rows[0]
        return
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        yield _multi_row_sql(single, len(chunk)), tuple(v for row in chunk for v in row)


def _pipelined(
    conn: psycopg.Connection[tuple[Any, ...]],
    send: Callable[[psycopg.Connection[tuple[Any, ...]]], None],
) -> None:
    """Run ``send(conn)`` in one pipeline; raise the first server error once it is closed.

    A server error surfaces either inside the block (as results come back while
    statements are still being sent) or as the block ends (the Sync). Raised
    inside, psycopg would also log "error ignored terminating <Pipeline>" on the
    way out, a warning in the host's logs for every refused append, conflicts the
    engine retries included. So the error is kept, the block is left cleanly,
    and the error is raised after psycopg has closed the pipeline.
    """
    import psycopg

    failed: psycopg.Error | None = None
    try:
        with conn.pipeline():
            try:
                send(conn)
            except psycopg.Error as err:
                failed = err
    except psycopg.Error:
        if failed is None:
            raise
    if failed is not None:
        raise failed


def _end_aborted(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Roll back the transaction block a failed pipelined append left open, if any."""
    import psycopg.pq

    if conn.closed or conn.broken:
        return
    if conn.info.transaction_status in (
        psycopg.pq.TransactionStatus.INERROR,
        psycopg.pq.TransactionStatus.INTRANS,
    ):
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")


def _drop_if_closed_by_server(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Raise the connection's error when the server closed it while it sat idle.

    An idle connection has nothing to read unless the server sent something
    (a terminated backend's FATAL notice): then one cheap query surfaces the
    loss before any of an append is sent, so the append is retried on a new
    connection instead of ending with an unknown outcome.
    """
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return  # no usable socket: the statements will report it
    if readable:
        conn.execute("SELECT 1")


def _summary_params(summary: IncidentSummary) -> tuple[Any, ...]:
    return summary_values(summary, _CODEC)
