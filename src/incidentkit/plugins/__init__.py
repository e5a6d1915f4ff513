"""Plugin hooks and markers. Plugin authors import :data:`hookimpl` from here or ``incidentkit``."""

from incidentkit.plugins._markers import hookimpl

__all__ = ["hookimpl"]
