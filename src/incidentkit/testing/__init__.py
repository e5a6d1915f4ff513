"""Test helpers shipped as public code: fixtures (the pytest plugin) and contract suites.

:class:`StoreContract` is the test class a store plugin subclasses; the pytest
plugin :mod:`incidentkit.testing.plugin` provides ``manual_clock``,
``memory_store``, ``sqlite_store`` and ``postgres_store``.
"""

from incidentkit.testing.store_contract import StoreContract

__all__ = ["StoreContract"]
