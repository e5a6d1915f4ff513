"""Plugin hooks and markers. Plugin authors import :data:`hookimpl` from here or ``incidentkit``.

``PROJECT_NAME`` is pluggy's project name (``"incidentkit"``), for code that
builds its own :class:`pluggy.PluginManager` (the contract suites do).
"""

from incidentkit.plugins._markers import PROJECT_NAME, hookimpl

__all__ = ["PROJECT_NAME", "hookimpl"]
