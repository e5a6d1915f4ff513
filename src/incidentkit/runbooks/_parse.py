"""Reading runbook files: TOML front matter between ``+++`` lines, then Markdown sections.

The front matter is parsed with the standard library's :mod:`tomllib` (the
policy file is TOML too), so runbooks add no dependency; see the Runbooks
guide for why TOML rather than YAML. Every problem is collected with its file
and line; a directory with any error is refused whole (:class:`RunbookError`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from incidentkit.errors import IncidentKitError, NotFound
from incidentkit.mitigation import MitigationAction, structure_params
from incidentkit.oncall.escalation import Target, TargetKind
from incidentkit.policy import Policy
from incidentkit.runbooks._model import (
    SECTIONS,
    AlertMatcher,
    EscalationRule,
    MitigationOption,
    Runbook,
    RunbookError,
    RunbookProblem,
    Step,
)
from incidentkit.serialization import converter, parse_duration
from incidentkit.severity import Severity

__all__ = ["Checker", "load_directory", "parse_runbook"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,55}$")  # "runbook.<id>" fits a store id
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.+?)\s*$")
_OPTION = re.compile(r"^option\s+\d+\s*[:.\-]\s*(.+)$", re.IGNORECASE)
_ACTION = re.compile(r"^\s*`?action:\s*([a-z][a-z0-9_]*)\s*(\{.*\})?\s*`?\s*$")
_TOML_LINE = re.compile(r"at line (\d+)")
_KNOWN_KEYS = frozenset(
    {
        "id",
        "title",
        "url",
        "services",
        "alerts",
        "severity",
        "symptoms",
        "escalation",
        "owner",
        "review_every",
        "last_reviewed",
    }
)


class Checker:
    """What a runbook is validated against: registered actions, known roles and layers.

    Escalation targets may be incident roles (``role:technical_lead``, a
    custom role of the policy) or schedule layers (``layer:secondary``);
    people and teams come with the directory of issue 15.
    """

    def __init__(
        self, policy: Policy, actions: Mapping[str, MitigationAction] | None = None
    ) -> None:
        self.policy = policy
        self.actions: Mapping[str, MitigationAction] = dict(actions or {})
        layers: set[str] = set()
        for schedule in policy.oncall.schedules:
            layers.update(schedule.layer_names)
        self.layers = frozenset(layers)

    def target(self, text: object) -> str:
        """The target ``text`` names, as ``role:<name>`` or ``layer:<name>``.

        :raises ValueError: saying what is known when nothing is.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("give a role or schedule layer, e.g. 'role:technical_lead'")
        raw = text.strip().lstrip("@")
        if ":" in raw:
            try:
                target = Target.parse(raw)
            except IncidentKitError as err:
                raise ValueError(str(err)) from err
            if target.kind is TargetKind.PERSON:
                raise ValueError(
                    f"{raw!r}: runbook escalation targets are roles and schedule layers "
                    "(people and teams are not known to the policy)"
                )
            if target.kind is TargetKind.ROLE:
                return f"role:{self._role(target.name, raw)}"
            if target.name not in self.layers:
                raise ValueError(f"{raw!r}: no schedule has a layer {target.name!r}{self._known()}")
            return f"layer:{target.name}"
        try:
            return f"role:{self.policy.roles.parse(raw)}"
        except NotFound:
            pass
        if raw in self.layers:
            return f"layer:{raw}"
        raise ValueError(f"{raw!r} is neither a role nor a schedule layer{self._known()}")

    def _role(self, name: str, raw: str) -> str:
        try:
            return self.policy.roles.parse(name)
        except NotFound:
            raise ValueError(f"{raw!r}: no role {name!r}{self._known()}") from None

    def _known(self) -> str:
        roles = ", ".join(self.policy.roles.names)
        layers = ", ".join(sorted(self.layers)) or "none"
        return f" (roles: {roles}; layers: {layers})"


def _line_of(lines: Sequence[str], key: str, first: int) -> int:
    """The 1-based line of ``key = …`` (or ``[[key]]``) in the front matter, else ``first``."""
    pattern = re.compile(rf"^\s*(\[\[?\s*{re.escape(key)}\s*\]\]?|{re.escape(key)}\s*=)")
    for index, line in enumerate(lines):
        if pattern.match(line):
            return first + index
    return first


def _split(text: str) -> tuple[list[str], int, list[str], int] | str:
    """``(front-matter lines, their first line, body lines, body first line)`` or a reason."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "+++":
        return "a runbook starts with TOML front matter between '+++' lines"
    for index in range(1, len(lines)):
        if lines[index].strip() == "+++":
            return lines[1:index], 2, lines[index + 1 :], index + 2
    return "the front matter's closing '+++' line is missing"


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    return None


class _File:
    """The problems of one file while it is parsed."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[RunbookProblem] = []

    def error(self, line: int, field: str, reason: str) -> None:
        self.problems.append(RunbookProblem(self.source, line, field, reason))

    def warn(self, line: int, field: str, reason: str) -> None:
        self.problems.append(RunbookProblem(self.source, line, field, reason, warning=True))


def _sections(
    body: Sequence[str], first: int, out: _File
) -> tuple[str, dict[str, tuple[int, list[str]]], list[tuple[int, str]]]:
    """Title, ``{heading: (line, lines)}`` of ``##`` sections, unknown headings with lines."""
    title = ""
    found: dict[str, tuple[int, list[str]]] = {}
    unknown: list[tuple[int, str]] = []
    current: list[str] | None = None
    fenced = False
    for offset, line in enumerate(body):
        number = first + offset
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced or _FENCE.match(line) else _HEADING.match(line)
        if heading and len(heading.group(1)) == 1:
            text = heading.group(2)
            title = text.split(":", 1)[1].strip() if text.lower().startswith("runbook:") else text
            current = None
            continue
        if heading and len(heading.group(1)) == 2:
            name = heading.group(2).strip()
            canonical = next((s for s in SECTIONS if s.lower() == name.lower()), None)
            key = canonical or name
            if key in found:
                out.error(number, f"sections.{key}", "the heading appears twice")
                current = None
                continue
            if canonical is None:
                unknown.append((number, name))
            current = []
            found[key] = (number, current)
            continue
        if current is not None:
            current.append(line)
    return title, found, unknown


def _steps(prefix: str, lines: Sequence[str]) -> tuple[Step, ...]:
    steps: list[Step] = []
    for line in lines:
        numbered = _NUMBERED.match(line)
        if numbered:
            steps.append(Step(f"{prefix}-{len(steps) + 1}", numbered.group(1)))
    return tuple(steps)


def _options(
    lines: Sequence[str], first: int, out: _File, checker: Checker
) -> tuple[MitigationOption, ...]:
    """The ``### Option N: …`` blocks of Quick Mitigation, with their action lines checked."""
    blocks: list[tuple[int, str, list[str]]] = []
    fenced = False
    for offset, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced or _FENCE.match(line) else _HEADING.match(line)
        if heading and len(heading.group(1)) == 3:
            name = heading.group(2).strip()
            option = _OPTION.match(name)
            blocks.append((first + offset, option.group(1).strip() if option else name, []))
        elif blocks:
            blocks[-1][2].append(line)
    options = []
    for number, title, block in blocks:
        action: str | None = None
        params: dict[str, Any] = {}
        for offset, line in enumerate(block, start=1):
            found = _ACTION.match(line)
            if not found:
                continue
            where = number + offset
            field = f"Quick Mitigation.{title}.action"
            action = found.group(1)
            spec = checker.actions.get(action)
            if spec is None:
                known = ", ".join(sorted(checker.actions)) or "none"
                out.error(where, field, f"no mitigation action {action!r} is registered ({known})")
                continue
            if found.group(2):
                try:
                    params = dict(tomllib.loads(f"p = {found.group(2)}")["p"])
                except tomllib.TOMLDecodeError as err:
                    out.error(where, f"{field}.params", f"not an inline TOML table: {err}")
                    continue
            try:
                typed = structure_params(spec, params, converter())
            except IncidentKitError as err:
                out.error(where, f"{field}.params", str(err))
                continue
            params = converter().unstructure(typed)
        text = "\n".join(block).strip()
        options.append(MitigationOption(title=title, text=text, action=action, params=params))
    return tuple(options)


def _front(
    data: Mapping[str, Any], lines: Sequence[str], first: int, out: _File, checker: Checker
) -> dict[str, Any]:
    """The front matter's fields, each checked; problems go to ``out``."""

    def at(key: str) -> int:
        return _line_of(lines, key, first)

    fields: dict[str, Any] = {}
    for key in data:
        if key not in _KNOWN_KEYS:
            out.warn(
                at(key), key, f"unknown front-matter key (known: {', '.join(sorted(_KNOWN_KEYS))})"
            )
    rid = data.get("id")
    if rid is None:
        out.error(first - 1, "id", "the front matter has no 'id'")
    elif not isinstance(rid, str) or not _ID.match(rid):
        out.error(
            at("id"), "id", f"{rid!r} is not an id (1 to 56 lowercase letters, digits and '-')"
        )
    else:
        fields["id"] = rid
    title = data.get("title")
    if title is not None:
        if isinstance(title, str) and title.strip():
            fields["title"] = title.strip()
        else:
            out.error(at("title"), "title", "must be non-empty text")
    url = data.get("url")
    if url is not None:
        if isinstance(url, str) and url.strip():
            fields["url"] = url.strip()
        else:
            out.error(at("url"), "url", "must be non-empty text")
    for key in ("services", "symptoms"):
        if key in data:
            value = _strings(data[key])
            if value is None:
                out.error(at(key), key, "must be a list of non-empty strings")
            else:
                fields[key] = value if key == "services" else tuple(v.lower() for v in value)
    if "alerts" in data:
        matchers: list[AlertMatcher] = []
        raw = data["alerts"]
        if not isinstance(raw, list):
            out.error(at("alerts"), "alerts", "must be a list of label tables")
        else:
            for index, entry in enumerate(raw):
                good = (
                    isinstance(entry, dict)
                    and entry
                    and all(
                        isinstance(k, str) and isinstance(v, str) and v for k, v in entry.items()
                    )
                )
                if not good:
                    out.error(
                        at("alerts"),
                        f"alerts[{index}]",
                        'must be a non-empty table of label = "value"',
                    )
                else:
                    matchers.append(AlertMatcher(entry))
            fields["alerts"] = tuple(matchers)
    if "severity" in data:
        try:
            fields["severity"] = Severity.parse(data["severity"])
        except IncidentKitError as err:
            out.error(at("severity"), "severity", str(err))
    if "owner" in data:
        owner = data["owner"]
        if isinstance(owner, str) and owner.strip():
            fields["owner"] = owner.strip()
        else:
            out.error(at("owner"), "owner", "must be non-empty text")
    if "review_every" in data:
        try:
            every = parse_duration(data["review_every"], "review_every")
        except IncidentKitError as err:
            out.error(at("review_every"), "review_every", str(err))
        else:
            if every < timedelta(days=1):
                out.error(at("review_every"), "review_every", "must be at least one day")
            else:
                fields["review_every"] = every
    if "last_reviewed" in data:
        value = data["last_reviewed"]
        if isinstance(value, date) and not hasattr(value, "hour"):
            fields["last_reviewed"] = value
        else:
            out.error(at("last_reviewed"), "last_reviewed", "must be a TOML date (2024-01-01)")
    if "escalation" in data:
        rules: list[EscalationRule] = []
        raw = data["escalation"]
        if not isinstance(raw, list):
            out.error(at("escalation"), "escalation", "must be a list of {after, to} tables")
            raw = []
        for index, entry in enumerate(raw):
            where = f"escalation[{index}]"
            if not isinstance(entry, dict) or set(entry) != {"after", "to"}:
                out.error(at("escalation"), where, "must be a table with exactly 'after' and 'to'")
                continue
            try:
                after = parse_duration(entry["after"], f"{where}.after")
            except IncidentKitError as err:
                out.error(at("escalation"), f"{where}.after", str(err))
                continue
            if after <= timedelta(0):
                out.error(at("escalation"), f"{where}.after", "must be positive")
                continue
            try:
                to = checker.target(entry["to"])
            except ValueError as err:
                out.error(at("escalation"), f"{where}.to", str(err))
                continue
            rules.append(EscalationRule(after=after, to=to))
        fields["escalation"] = tuple(rules)
    return fields


def parse_runbook(
    text: str, source: str, checker: Checker
) -> tuple[Runbook | None, list[RunbookProblem]]:
    """Parse one runbook file's text; ``None`` when it has errors (all of them listed)."""
    out = _File(source)
    split = _split(text)
    if isinstance(split, str):
        out.error(1, "front matter", split)
        return None, out.problems
    front, first, body, body_first = split
    try:
        data = tomllib.loads("\n".join(front))
    except tomllib.TOMLDecodeError as err:
        found = _TOML_LINE.search(str(err))
        line = first + int(found.group(1)) - 1 if found else 1
        out.error(line, "front matter", f"not valid TOML: {err}")
        return None, out.problems
    fields = _front(data, front, first, out, checker)
    title, found_sections, unknown = _sections(body, body_first, out)
    for line, name in unknown:
        out.warn(line, f"sections.{name}", "not a heading of the runbook template; kept as extra")
    sections = {k: "\n".join(v[1]).strip() for k, v in found_sections.items() if k in SECTIONS}
    extra = {k: "\n".join(v[1]).strip() for k, v in found_sections.items() if k not in SECTIONS}
    fields.setdefault("title", title or fields.get("id", ""))
    triage = _steps("triage", found_sections.get("Triage Steps", (0, []))[1])
    resolution = _steps("resolution", found_sections.get("Resolution Steps", (0, []))[1])
    quick = found_sections.get("Quick Mitigation")
    options = _options(quick[1], quick[0] + 1, out, checker) if quick else ()
    if any(not p.warning for p in out.problems) or "id" not in fields:
        return None, out.problems
    runbook = Runbook(
        source=source,
        sections=sections,
        extra=extra,
        triage=triage,
        resolution=resolution,
        mitigations=options,
        **fields,
    )
    return runbook, out.problems


def load_directory(
    directory: str | Path, checker: Checker
) -> tuple[tuple[Runbook, ...], tuple[RunbookProblem, ...]]:
    """Every ``*.md`` file under ``directory`` (sorted by path), checked together.

    Returns the runbooks (ordered by id) and the warnings.

    :raises RunbookError: listing every error of every file (duplicate ids and
        urls included); nothing is loaded then.
    """
    root = Path(directory)
    if not root.is_dir():
        raise RunbookError((RunbookProblem(str(root), 0, "directory", "is not a directory"),))
    problems: list[RunbookProblem] = []
    runbooks: list[Runbook] = []
    seen: dict[str, str] = {}
    urls: dict[str, str] = {}
    for path in sorted(root.rglob("*.md")):
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            problems.append(RunbookProblem(source, 0, "file", f"cannot read: {err}"))
            continue
        runbook, found = parse_runbook(text, source, checker)
        problems.extend(found)
        if runbook is None:
            continue
        if runbook.id in seen:
            line = _line_of(text.splitlines(), "id", 1)
            problems.append(
                RunbookProblem(
                    source, line, "id", f"{runbook.id!r} is already the id of {seen[runbook.id]}"
                )
            )
            continue
        if runbook.url is not None and runbook.url in urls:
            line = _line_of(text.splitlines(), "url", 1)
            problems.append(
                RunbookProblem(
                    source,
                    line,
                    "url",
                    f"{runbook.url!r} is already the url of {urls[runbook.url]}",
                )
            )
            continue
        seen[runbook.id] = source
        if runbook.url is not None:
            urls[runbook.url] = source
        runbooks.append(runbook)
    errors = tuple(p for p in problems if not p.warning)
    if errors:
        raise RunbookError(errors)
    runbooks.sort(key=lambda r: r.id)
    return tuple(runbooks), tuple(p for p in problems if p.warning)
