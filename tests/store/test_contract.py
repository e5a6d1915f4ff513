"""Every built-in store passes the same contract."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from incidentkit.store import MemoryStore, Store
from incidentkit.store.postgres import PostgresStore
from incidentkit.store.sqlite import SqliteStore
from incidentkit.testing import StoreContract


class TestMemoryStore(StoreContract):
    supports_processes = False

    @pytest.fixture
    def store(self, memory_store: MemoryStore) -> MemoryStore:
        return memory_store


class TestSqliteFileStore(StoreContract):
    @pytest.fixture
    def store(self, sqlite_store: SqliteStore) -> SqliteStore:
        return sqlite_store

    @pytest.fixture
    def store_factory(self, sqlite_store: SqliteStore) -> Callable[[], Store]:
        return functools.partial(SqliteStore, sqlite_store.url)


class TestSqliteNormalSyncStore(StoreContract):
    """The opt-in NORMAL mode keeps every guarantee except power-loss durability."""

    writers = 3
    appends_per_writer = 5

    @pytest.fixture
    def store(self, tmp_path: object) -> Iterator[SqliteStore]:
        store = SqliteStore(f"sqlite:///{tmp_path}/normal.db?synchronous=NORMAL")
        store.migrate()
        yield store
        store.close()

    @pytest.fixture
    def store_factory(self, store: SqliteStore) -> Callable[[], Store]:
        return functools.partial(SqliteStore, store.url + "?synchronous=NORMAL")


class TestSqliteMemoryStore(StoreContract):
    supports_processes = False

    @pytest.fixture
    def store(self) -> Iterator[SqliteStore]:
        store = SqliteStore("sqlite://:memory:")
        store.migrate()
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, postgres_store: PostgresStore) -> PostgresStore:
        return postgres_store

    @pytest.fixture
    def store_factory(
        self, postgres_store: PostgresStore, postgres_dsn: str
    ) -> Callable[[], Store]:
        return functools.partial(PostgresStore, postgres_dsn, schema=postgres_store.schema)


@pytest.mark.postgres
class TestPostgresPooledStore(StoreContract):
    writers = 3
    appends_per_writer = 5

    @pytest.fixture
    def store(self, postgres_store: PostgresStore, postgres_dsn: str) -> Iterator[PostgresStore]:
        pooled = PostgresStore(postgres_dsn, schema=postgres_store.schema, pool=True, max_size=3)
        yield pooled
        pooled.close()
