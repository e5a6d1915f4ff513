"""Stores: where timelines, summaries and the outbox live.

``memory://`` (:class:`MemoryStore`) ships in the core; ``sqlite:///path`` and
``postgresql://…`` are built-in plugins; third-party schemes plug in through
the ``incidentkit_store(url)`` hook. Every store shows its URL through
:func:`mask_url`, so a password in it never reaches a ``repr``, a log line
or an error.
"""

from incidentkit._redact import mask_url
from incidentkit.store._base import (
    IncidentSummary,
    KeyClaim,
    KeyStore,
    MarkStore,
    OutboxMessage,
    OutboxRow,
    OutboxState,
    Store,
    StoredCommand,
    StoredEvent,
    SummaryQuery,
    require_marks,
)
from incidentkit.store._checks import check_command_id
from incidentkit.store._query import summary_query
from incidentkit.store.memory import MemoryStore

__all__ = [
    "IncidentSummary",
    "KeyClaim",
    "KeyStore",
    "MarkStore",
    "MemoryStore",
    "OutboxMessage",
    "OutboxRow",
    "OutboxState",
    "Store",
    "StoredCommand",
    "StoredEvent",
    "SummaryQuery",
    "check_command_id",
    "mask_url",
    "require_marks",
    "summary_query",
]
