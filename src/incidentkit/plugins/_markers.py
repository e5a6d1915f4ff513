"""The pluggy markers. Users import :data:`incidentkit.hookimpl`."""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl"]

PROJECT_NAME = "incidentkit"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Mark a function or method as an implementation of an ``incidentkit_…`` hook.

>>> import incidentkit
>>> class MyPlugin:
...     @incidentkit.hookimpl
...     def incidentkit_open_channel(self, incident):
...         return "#" + incident.id.lower()
"""
