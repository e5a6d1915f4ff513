"""The plugin manager: discovery, registration and a typed facade over ``pm.hook``.

Registration order (STYLE rule 20): built-ins first, then entry points in the
``incidentkit`` group, then the objects passed to ``IncidentKit(plugins=…)``.
pluggy calls the latest registered first, so a host's own plugin answers a
first-result hook (``incidentkit_store``, ``incidentkit_open_channel``) before
an installed one, and an installed one before a built-in.

Set ``INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD=1`` to skip entry points. A plugin
that fails to import is reported in :attr:`PluginManager.failures` by name
and skipped, unless ``strict=True``, which makes it fatal.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from incidentkit._redact import mask_url, redact_error, url_secrets
from incidentkit.errors import IncidentKitError, PluginError, ValidationError
from incidentkit.mitigation import MitigationAction
from incidentkit.notify import NotifierSpec
from incidentkit.plugins import hookspecs
from incidentkit.plugins._markers import PROJECT_NAME
from incidentkit.plugins.builtin import BUILTIN_PLUGINS
from incidentkit.store import Store

if TYPE_CHECKING:
    from incidentkit.events import RecordedEvent
    from incidentkit.incident import Incident

__all__ = ["AUTOLOAD_ENV", "ENTRY_POINT_GROUP", "PluginFailure", "PluginInfo", "PluginManager"]

log = logging.getLogger("incidentkit.plugins")

ENTRY_POINT_GROUP = "incidentkit"
AUTOLOAD_ENV = "INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD"

T = TypeVar("T")


@attrs.frozen
class PluginFailure:
    """An entry point that could not be loaded."""

    name: str
    distribution: str | None
    error: str


@attrs.frozen
class PluginInfo:
    """A loaded plugin, for ``incidentkit plugins``."""

    name: str
    origin: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


def _call(impl: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with the arguments it declares (pluggy allows a subset).

    Anything but an incidentkit error becomes a :class:`PluginError` naming the plugin,
    so no untyped exception from a plugin reaches the caller.
    """
    try:
        return impl.function(*(kwargs[name] for name in impl.argnames))
    except IncidentKitError:
        raise
    except Exception as err:
        hook = getattr(impl.function, "__name__", "a hook")
        raise PluginError(impl.plugin_name, f"{hook} raised {type(err).__name__}: {err}") from err


def _autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


class PluginManager:
    """Wraps :class:`pluggy.PluginManager`; every method returns typed values."""

    def __init__(
        self,
        plugins: Sequence[object] = (),
        *,
        autoload: bool | None = None,
        strict: bool = False,
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._origins: dict[str, tuple[str, str | None, str | None]] = {}
        self.failures: list[PluginFailure] = []
        self._notifiers: dict[str, NotifierSpec] | None = None
        self._actions: dict[str, MitigationAction] | None = None
        for name, factory in BUILTIN_PLUGINS:
            self._register(factory(), name, ("builtin", None, None))
        if autoload if autoload is not None else _autoload_enabled():
            self._load_entry_points(strict)
        for plugin in plugins:
            self.register(plugin)

    # --- registration -----------------------------------------------------

    def _register(
        self, plugin: object, name: str, origin: tuple[str, str | None, str | None]
    ) -> None:
        if self._pm.has_plugin(name):
            raise PluginError(name, "a plugin with this name is already registered")
        try:
            self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as err:
            raise PluginError(name, str(err)) from err
        self._origins[name] = origin
        self._notifiers = None
        self._actions = None

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object (a module, class instance …) and return its name."""
        given = name or getattr(plugin, "name", None)
        if given is not None and not isinstance(given, str):
            raise PluginError(repr(plugin), "its 'name' attribute is not a string")
        plugin_name = given or f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        base, counter = plugin_name, 2
        while self._pm.has_plugin(plugin_name) and name is None and given is None:
            plugin_name = f"{base}#{counter}"
            counter += 1
        self._register(plugin, plugin_name, ("argument", None, None))
        return plugin_name

    def _load_entry_points(self, strict: bool) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            try:
                plugin = ep.load()
            except Exception as err:  # report any import failure by name
                failure = PluginFailure(ep.name, dist, f"{type(err).__name__}: {err}")
                if strict:
                    raise PluginError(ep.name, f"failed to load: {failure.error}") from err
                log.warning("incidentkit plugin %s failed to load: %s", ep.name, failure.error)
                self.failures.append(failure)
                continue
            if self._pm.has_plugin(ep.name):
                continue
            self._register(plugin, ep.name, ("entry point", dist, version))

    # --- introspection ----------------------------------------------------

    def names(self) -> list[str]:
        """Registered plugin names in registration order."""
        return [name for name, _ in self._pm.list_name_plugin() if name is not None]

    def describe(self) -> list[PluginInfo]:
        """Every registered plugin with its origin, package version and hooks."""
        infos: list[PluginInfo] = []
        for name, plugin in self._pm.list_name_plugin():
            if name is None:
                continue
            origin, dist, version = self._origins.get(name, ("argument", None, None))
            hooks = tuple(sorted(caller.name for caller in self._pm.get_hookcallers(plugin) or ()))
            infos.append(PluginInfo(name, origin, dist, version, hooks))
        return infos

    def _results(self, hook_name: str, kind: type[T]) -> list[tuple[str, T]]:
        """Call a collecting hook one implementation at a time, typed and attributed."""
        caller = getattr(self._pm.hook, hook_name)
        found: list[tuple[str, T]] = []
        for impl in reversed(caller.get_hookimpls()):
            result = _call(impl)
            if result is None:
                continue
            if isinstance(result, kind) or not isinstance(result, list | tuple):
                raise PluginError(
                    impl.plugin_name, f"{hook_name} must return a list of {kind.__name__}"
                )
            for item in result:
                if not isinstance(item, kind):
                    raise PluginError(
                        impl.plugin_name,
                        f"{hook_name} returned {type(item).__name__}, not {kind.__name__}",
                    )
                found.append((impl.plugin_name, item))
        return found

    def _named(self, hook_name: str, kind: type[T], name_of: Callable[[T], str]) -> dict[str, T]:
        registry: dict[str, T] = {}
        sources: dict[str, str] = {}
        for plugin, item in self._results(hook_name, kind):
            name = name_of(item)
            if not isinstance(name, str) or not name.strip():
                raise PluginError(plugin, f"a {kind.__name__} has no name")
            if name in registry:
                raise PluginError(
                    plugin, f"{kind.__name__} {name!r} is also provided by plugin {sources[name]}"
                )
            registry[name] = item
            sources[name] = plugin
        return registry

    def notifiers(self) -> dict[str, NotifierSpec]:
        """Every notifier by name; duplicates are refused naming both plugins."""
        if self._notifiers is None:
            self._notifiers = self._named("incidentkit_notifiers", NotifierSpec, lambda s: s.name)
        return self._notifiers

    def mitigation_actions(self) -> dict[str, MitigationAction]:
        """Every mitigation action by name; duplicates are refused naming both plugins."""
        if self._actions is None:
            self._actions = self._named(
                "incidentkit_mitigation_actions", MitigationAction, lambda a: a.name
            )
        return self._actions

    # --- typed hook calls -------------------------------------------------

    def open_store(self, url: str) -> Store:
        """Ask the store hook for ``url``; refuse unknown schemes listing the known ones."""
        if not isinstance(url, str) or "://" not in url:
            shown = mask_url(url) if isinstance(url, str) else type(url).__name__
            raise ValidationError(
                "url", f"{shown!r} is not a store URL (e.g. sqlite:///incidents.db)"
            )
        secrets = url_secrets(url)
        # One implementation at a time (latest registered first, as pluggy would
        # call them) so a bad result is reported with the plugin that returned it.
        for impl in reversed(self._pm.hook.incidentkit_store.get_hookimpls()):
            failure: BaseException | None = None
            try:
                result: object = _call(impl, url=url)
            except IncidentKitError as err:
                if not secrets:
                    raise
                # a plugin's message may quote the URL: scrub its password first
                failure = redact_error(err, secrets, cause=err.__cause__)
            if failure is not None:
                raise failure
            if result is None:
                continue
            if not isinstance(result, Store):
                raise PluginError(
                    impl.plugin_name,
                    f"incidentkit_store returned {type(result).__name__}, not a Store",
                )
            return result
        known = self.known_schemes()
        raise ValidationError(
            "url",
            f"no store plugin handles {url.split('://', 1)[0]}:// (known: {', '.join(known)})",
        )

    def known_schemes(self) -> list[str]:
        """Schemes declared by store plugins through a ``KNOWN_SCHEMES`` attribute."""
        schemes: list[str] = []
        for _, plugin in self._pm.list_name_plugin():
            for scheme in getattr(plugin, "KNOWN_SCHEMES", ()) or ():
                if scheme not in schemes:
                    schemes.append(scheme)
        from incidentkit.plugins.builtin.stores import KNOWN_SCHEMES

        return [*schemes, *(s for s in KNOWN_SCHEMES if s not in schemes)]

    def open_channel(self, incident: Incident) -> str | None:
        """First non-None channel reference from ``incidentkit_open_channel``."""
        for impl in reversed(self._pm.hook.incidentkit_open_channel.get_hookimpls()):
            result: object = _call(impl, incident=incident)
            if result is None:
                continue
            if not isinstance(result, str):
                raise PluginError(
                    impl.plugin_name,
                    f"incidentkit_open_channel returned {type(result).__name__}, not str",
                )
            return result
        return None

    def opens_channels(self) -> bool:
        """True when some plugin implements ``incidentkit_open_channel``."""
        return bool(self._pm.hook.incidentkit_open_channel.get_hookimpls())

    def authorize(self, actor: str, action: str, incident: Incident | None) -> str | None:
        """The first veto reason from ``incidentkit_authorize``, or ``None``."""
        caller = self._pm.hook.incidentkit_authorize
        for impl in reversed(caller.get_hookimpls()):
            reason: Any = _call(impl, actor=actor, action=action, incident=incident)
            if reason is not None:
                return f"{reason} (plugin {impl.plugin_name})"
        return None

    def observers(self) -> list[str]:
        """Names of plugins implementing ``incidentkit_event_recorded``."""
        return [
            impl.plugin_name for impl in self._pm.hook.incidentkit_event_recorded.get_hookimpls()
        ]

    def notify_observer(self, plugin: str, incident: Incident, record: RecordedEvent) -> None:
        """Call one plugin's ``incidentkit_event_recorded`` (per-plugin isolation)."""
        for impl in self._pm.hook.incidentkit_event_recorded.get_hookimpls():
            if impl.plugin_name == plugin:
                _call(impl, incident=incident, record=record)
                return
        raise PluginError(plugin, "is no longer registered as an event observer")

    @property
    def pluggy(self) -> pluggy.PluginManager:
        """The underlying :class:`pluggy.PluginManager` (for advanced use and tests)."""
        return self._pm
