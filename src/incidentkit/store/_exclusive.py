"""Per-incident locks for ``Store.exclusive``: writers of a contended incident take turns.

The engine holds such a lock across load → decide → append once it has lost
a version race on an incident, so a decision is never made on stale state
while another writer of the same store waits. The version check stays the
guarantee; the lock only stops conflicts from reaching callers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator

__all__ = ["FileRangeLocks", "ThreadLocks", "lock_number"]


def lock_number(incident_id: str, bits: int = 63) -> int:
    """A stable non-negative number for ``incident_id`` (the same in every process)."""
    digest = hashlib.blake2b(incident_id.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") >> (64 - bits)


class ThreadLocks:
    """One lock per incident for the threads of this process (bounded by use)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, incident_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(incident_id, (threading.Lock(), 0))
            self._locks[incident_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[incident_id]
                if users == 1:
                    del self._locks[incident_id]
                else:
                    self._locks[incident_id] = (lock, users - 1)


class FileRangeLocks:
    """Per-incident locks across processes: a POSIX byte-range lock in a sidecar file.

    Byte-range locks belong to the process, so threads also go through
    :class:`ThreadLocks` first. Where ``fcntl`` is missing (Windows) only the
    thread locks apply.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = ThreadLocks()

    @contextlib.contextmanager
    def hold(self, incident_id: str) -> Iterator[None]:
        with self._threads.hold(incident_id):
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX
                yield
                return
            offset = lock_number(incident_id, bits=40)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX, 1, offset)
                try:
                    yield
                finally:
                    fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)
            finally:
                os.close(fd)
