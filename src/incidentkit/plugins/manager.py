"""The plugin manager: discovery, registration and a typed facade over ``pm.hook``.

Registration order: built-ins first, then entry points in the
``incidentkit`` group, then the objects passed to ``IncidentKit(plugins=…)``.
pluggy calls the latest registered first, so a host's own plugin answers a
first-result hook (``incidentkit_store``, ``incidentkit_open_channel``) before
an installed one, and an installed one before a built-in. ``tryfirst`` and
``trylast`` change that order as pluggy documents.

Every hook is called through pluggy (``pm.hook.…``), so wrappers
(``wrapper=True``, ``hookwrapper=True``), ordering and pluggy's tracing and
monitoring work as they do in pytest. What pluggy cannot say, the manager
adds: an exception from an implementation becomes a :class:`PluginError`
naming the plugin it came from (read off the traceback), and a malformed
result or a veto is attributed by asking the implementations one at a time
(pluggy's :meth:`~pluggy.PluginManager.subset_hook_caller`).

Registration refuses what pluggy would silently ignore: a function marked
``@hookimpl`` whose name is not an incidentkit hook (naming the nearest one),
an ``incidentkit_…`` function without the marker, and a class whose hooks are
instance methods. An entry point may name a class whose constructor needs no
arguments; it is instantiated.

Set ``INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD=1`` to skip entry points. An entry
point that fails to import or is refused is reported in
:attr:`PluginManager.failures` by name and skipped, unless ``strict=True``,
which makes it fatal. A host configures an installed plugin in code through
``settings={name: {...}}`` (delivered by ``incidentkit_configure``) or by
registering its own object under the same name, which replaces the installed
one.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import logging
import os
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from incidentkit._redact import mask_url, redact_error, url_secrets
from incidentkit._validate import shown
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
    from incidentkit.intake.model import AdapterSpec
    from incidentkit.review.trackers import ActionItemTracker

__all__ = [
    "AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "HOOK_NAMES",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
]

log = logging.getLogger("incidentkit.plugins")

ENTRY_POINT_GROUP = "incidentkit"
AUTOLOAD_ENV = "INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD"
HOOK_PREFIX = "incidentkit_"

HOOK_NAMES: frozenset[str] = frozenset(
    name
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith(HOOK_PREFIX) and function.__module__ == hookspecs.__name__
)
"""Every hook incidentkit defines (``incidentkit_store``, ``incidentkit_authorize`` …)."""

T = TypeVar("T")

_Origin = tuple[str, str | None, str | None]


@attrs.frozen
class PluginFailure:
    """An entry point that could not be loaded or was refused."""

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


def _autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def _nearest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest choice, or the list of choices."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    return f" (known: {', '.join(options)})" if options else ""


def _is_wrapper(impl: pluggy.HookImpl) -> bool:
    return bool(impl.wrapper or impl.hookwrapper)


def _plain(caller: pluggy.HookCaller) -> list[pluggy.HookImpl]:
    """The non-wrapper implementations in the order pluggy calls them."""
    return [impl for impl in reversed(caller.get_hookimpls()) if not _is_wrapper(impl)]


def _label(impls: Sequence[pluggy.HookImpl]) -> str:
    names = list(dict.fromkeys(impl.plugin_name for impl in impls))
    if len(names) == 1:
        return names[0]
    return "one of " + ", ".join(names) if names else "(no plugin)"


def _code_of(impl: pluggy.HookImpl) -> types.CodeType | None:
    function = getattr(impl.function, "__func__", impl.function)
    code = getattr(inspect.unwrap(function), "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _culprit(caller: pluggy.HookCaller, err: BaseException) -> str:
    """The plugin whose implementation raised ``err``: the innermost of its frames."""
    impls = caller.get_hookimpls()
    by_code: dict[types.CodeType, list[pluggy.HookImpl]] = {}
    for impl in impls:
        code = _code_of(impl)
        if code is not None:
            by_code.setdefault(code, []).append(impl)
    found: str | None = None
    tb = err.__traceback__
    while tb is not None:
        candidates = by_code.get(tb.tb_frame.f_code)
        if candidates:
            instance = tb.tb_frame.f_locals.get("self")
            owner = next((i for i in candidates if i.plugin is instance), candidates[0])
            found = owner.plugin_name
        tb = tb.tb_next
    return found if found is not None else _label(impls)


def _function_at(plugin: object, attr: str) -> bool:
    """True when ``plugin.attr`` is a function or method (without running descriptors)."""
    try:
        raw = inspect.getattr_static(plugin, attr)
    except AttributeError:
        return False
    return isinstance(raw, staticmethod | classmethod) or inspect.isroutine(raw)


def _needs_instance(plugin: object, hooks: Iterable[str]) -> bool:
    """True for a class whose hook implementations are instance methods."""
    if not inspect.isclass(plugin):
        return False
    return any(inspect.isfunction(inspect.getattr_static(plugin, attr, None)) for attr in hooks)


def _required_parameters(cls: type) -> list[str]:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [p.name for p in parameters if p.kind in kinds and p.default is p.empty]


def _check_settings(settings: object) -> dict[str, Mapping[str, object]]:
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise ValidationError(
            "settings", f"expected a mapping of plugin name to settings, got {shown(settings)}"
        )
    checked: dict[str, Mapping[str, object]] = {}
    for name, value in settings.items():
        if not isinstance(name, str) or not isinstance(value, Mapping):
            raise ValidationError(
                "settings",
                f"expected plugin name -> mapping of settings, got {shown(name)}: {shown(value)}",
            )
        checked[name] = types.MappingProxyType(dict(value))
    return checked


class PluginManager:
    """Wraps :class:`pluggy.PluginManager`; every method returns typed values.

    ``settings`` maps a plugin name to that plugin's settings; each plugin
    named receives its own through ``incidentkit_configure`` once every
    plugin is registered (a name no plugin has is refused, naming the
    nearest). An object the host registers under the name of a built-in or
    installed plugin replaces it (with a log line); two of the host's own
    objects with one name are refused.
    """

    def __init__(
        self,
        plugins: Sequence[object] = (),
        *,
        autoload: bool | None = None,
        strict: bool = False,
        settings: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._origins: dict[str, _Origin] = {}
        self._settings = _check_settings(settings)
        self._configuring = False
        self.failures: list[PluginFailure] = []
        self._notifiers: dict[str, NotifierSpec] | None = None
        self._actions: dict[str, MitigationAction] | None = None
        # Asked on every command's outbox planning; recomputed after a registration.
        self._observers: list[str] | None = None
        self._opens_channels: bool | None = None
        for name, factory in BUILTIN_PLUGINS:
            self._register(factory(), name, ("builtin", None, None))
        if autoload if autoload is not None else _autoload_enabled():
            self._load_entry_points(strict)
        for plugin in plugins:
            self.register(plugin)
        failed = {failure.name for failure in self.failures}
        for name in self._settings:
            if not self._pm.has_plugin(name) and name not in failed:
                raise ValidationError(
                    "settings",
                    f"no plugin named {name!r} is registered"
                    + _nearest(repr(name), [repr(known) for known in self.names()]),
                )
        self._configuring = True
        for name in self._settings:
            if self._pm.has_plugin(name):
                self._configure(name)

    # --- registration -----------------------------------------------------

    def _problems(self, plugin: object) -> list[str]:
        """What pluggy would silently ignore: unknown hooks, unmarked ``incidentkit_`` functions."""
        problems: list[str] = []
        for attr in dir(plugin):
            opts = self._opts(plugin, attr)
            if opts is None:
                if attr.startswith(HOOK_PREFIX) and _function_at(plugin, attr):
                    problems.append(
                        f"{attr} is not marked with @incidentkit.hookimpl, so it would never "
                        "be called"
                    )
                continue
            hook = str(opts.get("specname") or attr)
            if hook not in HOOK_NAMES and not opts.get("optionalhook"):
                problems.append(f"{hook} is not an incidentkit hook{_nearest(hook, HOOK_NAMES)}")
        return problems

    def _opts(self, plugin: object, attr: str) -> Mapping[str, object] | None:
        try:
            return self._pm.parse_hookimpl_opts(plugin, attr)
        except Exception:  # an attribute that cannot be read is no hook
            return None

    def _hook_attrs(self, plugin: object) -> list[str]:
        return [
            attr
            for attr in dir(plugin)
            if attr.startswith(HOOK_PREFIX) or self._opts(plugin, attr) is not None
        ]

    def _register(self, plugin: object, name: str, origin: _Origin) -> None:
        if _needs_instance(plugin, self._hook_attrs(plugin)):
            qualname = getattr(plugin, "__qualname__", repr(plugin))
            raise PluginError(
                name,
                f"{qualname} is a class whose hooks are instance methods; "
                f"pass an instance ({qualname}()) instead",
            )
        problems = self._problems(plugin)
        if problems:
            raise PluginError(name, "; ".join(problems))
        replaced: object = None
        if self._pm.has_plugin(name):
            kind = self._origins.get(name, ("argument", None, None))[0]
            if origin[0] != "argument" or kind == "argument":
                raise PluginError(name, "a plugin with this name is already registered")
            replaced = self._pm.unregister(name=name)
        try:
            self._pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as err:
            if self._pm.has_plugin(name):  # pluggy < 1.6 may register part of a plugin
                self._pm.unregister(name=name)
            if replaced is not None:
                self._pm.register(replaced, name=name)
            raise PluginError(name, str(err)) from err
        if replaced is not None:
            old, dist, version = self._origins[name]
            source = f" from {dist} {version}" if dist else ""
            log.info(
                "incidentkit plugin %s: the host's object replaces the %s%s", name, old, source
            )
        self._origins[name] = origin
        self._notifiers = None
        self._actions = None
        self._observers = None
        self._opens_channels = None

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object (a module, class instance …) and return its name.

        A name already taken by a built-in or an installed (entry point)
        plugin is taken over: that plugin is unregistered and a line logged.
        """
        given = name or getattr(plugin, "name", None)
        if given is not None and not isinstance(given, str):
            raise PluginError(repr(plugin), "its 'name' attribute is not a string")
        plugin_name = given or f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        base, counter = plugin_name, 2
        while self._pm.has_plugin(plugin_name) and name is None and given is None:
            plugin_name = f"{base}#{counter}"
            counter += 1
        self._register(plugin, plugin_name, ("argument", None, None))
        if self._configuring and plugin_name in self._settings:
            self._configure(plugin_name)
        return plugin_name

    def _entry_point_object(self, name: str, loaded: object) -> object:
        """The object to register for an entry point: a class is instantiated without arguments."""
        if not inspect.isclass(loaded) or not _needs_instance(loaded, self._hook_attrs(loaded)):
            return loaded
        required = _required_parameters(loaded)
        if required:
            raise PluginError(
                name,
                f"the entry point names the class {loaded.__qualname__}, whose constructor "
                f"needs {', '.join(required)}; point it at an instance "
                "(module:plugin) or give every parameter a default",
            )
        try:
            return loaded()
        except Exception as err:
            raise PluginError(
                name, f"instantiating {loaded.__qualname__} raised {type(err).__name__}: {err}"
            ) from err

    def _load_entry_points(self, strict: bool) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if self._pm.has_plugin(ep.name):
                continue
            try:
                try:
                    loaded = ep.load()
                except Exception as err:  # report any import failure by name
                    raise PluginError(
                        ep.name, f"failed to load: {type(err).__name__}: {err}"
                    ) from err
                plugin = self._entry_point_object(ep.name, loaded)
                self._register(plugin, ep.name, ("entry point", dist, version))
            except PluginError as err:
                if strict:
                    raise
                log.warning("incidentkit plugin %s was not loaded: %s", ep.name, err.reason)
                self.failures.append(PluginFailure(ep.name, dist, err.reason))

    def _configure(self, name: str) -> None:
        plugin = self._pm.get_plugin(name)
        caller = self._pm.hook.incidentkit_configure
        if not any(impl.plugin is plugin for impl in caller.get_hookimpls()):
            raise PluginError(
                name, "was given settings but does not implement incidentkit_configure"
            )
        self._solo("incidentkit_configure", plugin, {"settings": self._settings[name]})

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

    # --- calling through pluggy -----------------------------------------

    def _invoke(self, caller: pluggy.HookCaller, hook_name: str, kwargs: Mapping[str, Any]) -> Any:
        """Call ``caller`` (pluggy runs wrappers and ordering); attribute any exception."""
        try:
            return caller(**kwargs)
        except IncidentKitError:
            raise
        except Exception as err:
            plugin = _culprit(caller, err)
            raise PluginError(plugin, f"{hook_name} raised {type(err).__name__}: {err}") from err

    def _call(self, hook_name: str, **kwargs: Any) -> Any:
        return self._invoke(getattr(self._pm.hook, hook_name), hook_name, kwargs)

    def _solo(
        self, hook_name: str, plugin: object, kwargs: Mapping[str, Any], *, wrapped: bool = False
    ) -> Any:
        """Call one plugin's implementation through pluggy (with every wrapper when ``wrapped``)."""
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook_name)
        others = [
            impl.plugin
            for impl in caller.get_hookimpls()
            if impl.plugin is not plugin and not (wrapped and _is_wrapper(impl))
        ]
        return self._invoke(self._pm.subset_hook_caller(hook_name, others), hook_name, kwargs)

    def _wrappers(self, hook_name: str) -> list[pluggy.HookImpl]:
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook_name)
        return [impl for impl in caller.get_hookimpls() if _is_wrapper(impl)]

    def _first_answer(self, hook_name: str, kwargs: Mapping[str, Any]) -> str:
        """The plugin whose answer a first-result hook returned (asked one at a time)."""
        for impl in _plain(getattr(self._pm.hook, hook_name)):
            if self._solo(hook_name, impl.plugin, kwargs) is not None:
                return impl.plugin_name
        return _label(self._wrappers(hook_name))

    # --- collecting hooks -------------------------------------------------

    @staticmethod
    def _registry(
        hook_name: str,
        kind: type[T],
        name_of: Callable[[T], str],
        results: Iterable[tuple[str, object]],
    ) -> dict[str, T]:
        registry: dict[str, T] = {}
        sources: dict[str, str] = {}
        for plugin, result in results:
            if isinstance(result, kind) or not isinstance(result, list | tuple):
                raise PluginError(plugin, f"{hook_name} must return a list of {kind.__name__}")
            for item in result:
                if not isinstance(item, kind):
                    raise PluginError(
                        plugin, f"{hook_name} returned {type(item).__name__}, not {kind.__name__}"
                    )
                name = name_of(item)
                if not isinstance(name, str) or not name.strip():
                    raise PluginError(plugin, f"a {kind.__name__} has no name")
                if name in registry:
                    raise PluginError(
                        plugin,
                        f"{kind.__name__} {name!r} is also provided by plugin {sources[name]}",
                    )
                registry[name] = item
                sources[name] = plugin
        return registry

    def _named(self, hook_name: str, kind: type[T], name_of: Callable[[T], str]) -> dict[str, T]:
        """Collect a registration hook through pluggy; attribute a bad result to its plugin."""
        results = self._call(hook_name)
        wrappers = _label(self._wrappers(hook_name))
        if not isinstance(results, list):
            raise PluginError(
                wrappers, f"a wrapper of {hook_name} returned {type(results).__name__}, not a list"
            )
        try:
            return self._registry(hook_name, kind, name_of, (("?", r) for r in results))
        except PluginError:
            pass
        # Something is wrong: ask each plugin on its own to name the one at fault.
        caller = getattr(self._pm.hook, hook_name)
        alone = [
            (impl.plugin_name, answer)
            for impl in _plain(caller)
            for answer in self._solo(hook_name, impl.plugin, {})
        ]
        self._registry(hook_name, kind, name_of, alone)
        # Each plugin alone is fine, so a wrapper changed the results.
        return self._registry(hook_name, kind, name_of, ((wrappers, r) for r in results))

    def notifiers(self) -> dict[str, NotifierSpec]:
        """Every notifier by name; duplicates are refused naming both plugins."""
        if self._notifiers is None:
            self._notifiers = self._named("incidentkit_notifiers", NotifierSpec, lambda s: s.name)
        return self._notifiers

    def alert_adapters(self) -> list[AdapterSpec]:
        """Every plugin's alert adapter; duplicate names are refused naming both plugins."""
        from incidentkit.intake.model import AdapterSpec as Spec

        return list(self._named("incidentkit_alert_adapters", Spec, lambda a: a.name).values())

    def action_item_trackers(self) -> dict[str, ActionItemTracker]:
        """Every action-item tracker by name; duplicates are refused naming both plugins."""
        from incidentkit.review.trackers import ActionItemTracker as Tracker

        return self._named(
            "incidentkit_action_item_trackers",
            Tracker,  # type: ignore[type-abstract]
            lambda t: t.name,
        )

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
        failure: BaseException | None = None
        try:
            result: object = self._call("incidentkit_store", url=url)
        except IncidentKitError as err:
            if not secrets:
                raise
            # a plugin's message may quote the URL: scrub its password first
            failure = redact_error(err, secrets, cause=err.__cause__)
        if failure is not None:
            raise failure
        if result is None:
            known = self.known_schemes()
            raise ValidationError(
                "url",
                f"no store plugin handles {url.split('://', 1)[0]}:// (known: {', '.join(known)})",
            )
        if not isinstance(result, Store):
            raise PluginError(
                self._first_answer("incidentkit_store", {"url": url}),
                f"incidentkit_store returned {type(result).__name__}, not a Store",
            )
        return result

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
        result: object = self._call("incidentkit_open_channel", incident=incident)
        if result is None or isinstance(result, str):
            return result
        # Not asked again: opening a channel is not free of side effects.
        caller = self._pm.hook.incidentkit_open_channel
        raise PluginError(
            _label(_plain(caller) or caller.get_hookimpls()),
            f"incidentkit_open_channel returned {type(result).__name__}, not str",
        )

    def opens_channels(self) -> bool:
        """True when some plugin implements ``incidentkit_open_channel``."""
        if self._opens_channels is None:
            self._opens_channels = bool(_plain(self._pm.hook.incidentkit_open_channel))
        return self._opens_channels

    def authorize(self, actor: str, action: str, incident: Incident | None) -> str | None:
        """The first veto reason from ``incidentkit_authorize`` naming its plugin, or ``None``."""
        if not self._pm.hook.incidentkit_authorize.get_hookimpls():
            return None  # nobody to ask: skip pluggy's call on every command
        kwargs = {"actor": actor, "action": action, "incident": incident}
        reasons: object = self._call("incidentkit_authorize", **kwargs)
        if not isinstance(reasons, list):
            raise PluginError(
                _label(self._wrappers("incidentkit_authorize")),
                f"a wrapper of incidentkit_authorize returned {type(reasons).__name__}, not a list",
            )
        vetoes = [reason for reason in reasons if reason is not None]
        if not vetoes:
            return None
        return f"{vetoes[0]} (plugin {self._vetoed_by(vetoes[0], kwargs)})"

    def _vetoed_by(self, reason: object, kwargs: Mapping[str, Any]) -> str:
        """Which plugin gave ``reason``: each one asked alone, in call order, else a wrapper."""
        for impl in _plain(self._pm.hook.incidentkit_authorize):
            if reason in self._solo("incidentkit_authorize", impl.plugin, kwargs):
                return impl.plugin_name
        return _label(self._wrappers("incidentkit_authorize"))

    def observers(self) -> list[str]:
        """Names of plugins implementing ``incidentkit_event_recorded`` (wrappers aside)."""
        if self._observers is None:
            self._observers = [
                impl.plugin_name
                for impl in reversed(_plain(self._pm.hook.incidentkit_event_recorded))
            ]
        return list(self._observers)

    def notify_observer(self, plugin: str, incident: Incident, record: RecordedEvent) -> None:
        """Call one plugin's ``incidentkit_event_recorded``, inside every wrapper of the hook."""
        for impl in _plain(self._pm.hook.incidentkit_event_recorded):
            if impl.plugin_name == plugin:
                self._solo(
                    "incidentkit_event_recorded",
                    impl.plugin,
                    {"incident": incident, "record": record},
                    wrapped=True,
                )
                return
        raise PluginError(plugin, "is no longer registered as an event observer")

    @property
    def pluggy(self) -> pluggy.PluginManager:
        """The underlying :class:`pluggy.PluginManager` (for advanced use and tests)."""
        return self._pm
