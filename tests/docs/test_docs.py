"""The docs stay in step with the code.

Every hook spec has an entry on the hook reference page, every name in
``incidentkit.__all__`` is linked from the API reference to the object it
names, the tables on the concepts page match the defaults they describe, and
the README example runs.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import incidentkit
from incidentkit.checklists import DEFAULT_TEMPLATES
from incidentkit.lifecycle import DEFAULT_PHASE_TARGETS, TRANSITIONS, Status, allowed_transitions
from incidentkit.oncall import EscalationPolicies
from incidentkit.plugins import hookspecs
from incidentkit.severity import SeverityLevel, SeverityPolicy

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

HOOK_DIRECTIVE = re.compile(
    r"^\.\. autofunction:: incidentkit\.plugins\.hookspecs\.(\w+)\s*$", re.M
)
AUTOMODULE = re.compile(r"^\.\. automodule:: ([\w.]+)\s*$", re.M)
PY_DATA = re.compile(r"^\.\. py:data:: ([\w.]+)\s*$", re.M)
# {py:class}`Severity <incidentkit.severity.Severity>`
NAME_LINK = re.compile(r"\{py:(?:class|exc|func|data|mod)\}`(\w+) <([\w.]+)>`")


def read(relative: str) -> str:
    return (DOCS / relative).read_text(encoding="utf-8")


def hook_names() -> set[str]:
    return {
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("incidentkit_") and function.__module__ == hookspecs.__name__
    }


def table_after(text: str, heading: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first table at or after ``heading``."""
    lines = text[text.index(heading) :].splitlines()
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    assert len(rows) > 2, f"no table at or after {heading!r}"
    return rows[2:]


def ticked(cell: str) -> list[str]:
    """The `code` spans in a cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


def short(delta: object) -> str:
    """How the concepts page writes a duration: ``5m``, ``1h``."""
    assert delta is not None
    minutes = int(delta.total_seconds() // 60)  # type: ignore[attr-defined]
    return f"{minutes // 60}h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes}m"


# --- the hook reference -------------------------------------------------------


def test_there_are_hooks_to_check() -> None:
    assert {"incidentkit_store", "incidentkit_authorize"} <= hook_names()


def test_every_hook_has_an_autofunction_on_the_hook_page() -> None:
    documented = HOOK_DIRECTIVE.findall(read("reference/hooks.md"))
    assert len(documented) == len(set(documented)), "a hook is documented twice"
    missing = hook_names() - set(documented)
    stale = set(documented) - hook_names()
    assert not missing, f"hooks missing from docs/reference/hooks.md: {sorted(missing)}"
    assert not stale, f"docs/reference/hooks.md documents unknown hooks: {sorted(stale)}"


def test_hook_summary_table_says_which_hooks_stop_at_the_first_result() -> None:
    rows = {ticked(row[0])[0]: row for row in table_after(read("reference/hooks.md"), "| hook |")}
    assert set(rows) == hook_names()
    for name, row in rows.items():
        firstresult = getattr(hookspecs, name).incidentkit_spec["firstresult"]
        assert ("first non-None result wins" in row[1]) == firstresult, name


# --- the API reference --------------------------------------------------------


def resolve(target: str) -> object:
    module_name, _, attribute = target.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def test_every_public_name_is_linked_from_the_api_reference() -> None:
    page = read("reference/api.md")
    links = dict(NAME_LINK.findall(page))
    missing = [name for name in incidentkit.__all__ if name not in links]
    assert not missing, f"names in incidentkit.__all__ missing from reference/api.md: {missing}"
    for name in incidentkit.__all__:
        assert resolve(links[name]) is getattr(incidentkit, name), (
            f"reference/api.md links {name} to {links[name]}, which is another object"
        )


def test_every_link_target_is_documented_on_the_api_page() -> None:
    page = read("reference/api.md")
    modules = set(AUTOMODULE.findall(page))
    declared = set(PY_DATA.findall(page))
    for name, target in NAME_LINK.findall(page):
        module = target.rpartition(".")[0]
        assert module in modules or target in declared, (
            f"{name} links to {target}, but {module} has no automodule on the page"
        )


# --- the concepts page --------------------------------------------------------


def test_checklist_tables_match_the_default_templates() -> None:
    page = read("concepts.md")
    for template in DEFAULT_TEMPLATES:
        rows = table_after(page, f"### {template.title} (`{template.name}`)")
        documented = [(ticked(key)[0], text, required) for key, text, required in rows]
        expected = [
            (item.key, item.text, "yes" if item.required else "no") for item in template.items
        ]
        assert documented == expected, template.name


def test_lifecycle_table_matches_the_transitions() -> None:
    rows = table_after(read("concepts.md"), "| status | may move to |")
    documented = {Status(ticked(state)[0]): set(ticked(targets)) for state, targets in rows}
    assert set(documented) == set(TRANSITIONS)
    for state, targets in documented.items():
        assert targets == {s.value for s in allowed_transitions(state)}, state


def test_phase_table_matches_the_default_targets() -> None:
    rows = table_after(read("concepts.md"), "| phase | target |")
    documented = {ticked(phase)[0]: target for phase, target in rows}
    expected = {
        phase.value: "none (ongoing)" if t is None else f"{int(t.total_seconds() // 60)} minutes"
        for phase, t in DEFAULT_PHASE_TARGETS.items()
    }
    assert documented == expected


def cadence(level: SeverityLevel) -> str:
    return short(level.update_cadence) if level.update_cadence else "(no fixed cadence)"


def test_severity_table_matches_the_default_levels() -> None:
    rows = table_after(read("concepts.md"), "| severity | name | impact |")
    policy = SeverityPolicy.default()
    assert [row[0] for row in rows] == [level.severity.value for level in policy.levels]
    for row in rows:
        severity, name, impact, target, update, paging, escalates = row
        level = policy.level(incidentkit.Severity(severity))
        assert (name, impact) == (level.name, level.impact), severity
        assert target == level.describe_target(), severity
        if level.update_cadence is None:
            assert update in level.cadence_note, severity
        else:
            assert update == short(level.update_cadence), severity
        escalation = EscalationPolicies.default().for_severity(level.severity)
        assert escalation is not None, severity
        assert ticked(paging) == [escalation.paging.value], severity
        after = escalation.escalate_after
        expected = short(after) if after else "never"
        assert escalates == expected, severity


def test_rule_table_matches_the_default_rules() -> None:
    rows = table_after(read("concepts.md"), "| severity | when | reason |")
    documented = [(severity, ticked(when)[0], reason) for severity, when, reason in rows]
    expected = [
        (rule.severity.value, rule.when, rule.reason) for rule in SeverityPolicy.default().rules
    ]
    assert documented == expected


def test_error_table_names_every_error_and_real_attributes() -> None:
    rows = table_after(read("concepts.md"), "| error | raised when | attributes |")
    documented = {}
    for error, _, attributes in rows:
        name = re.search(r"incidentkit\.errors\.(\w+)", error)
        assert name, error
        documented[name.group(1)] = ticked(attributes)
    expected = set(incidentkit.errors.__all__) - {"IncidentKitError"}
    assert set(documented) == expected
    for name, attributes in documented.items():
        if not attributes:  # "the message": nothing beyond the exception's text
            continue
        parameters = set(inspect.signature(getattr(incidentkit.errors, name)).parameters)
        assert set(attributes) <= parameters, f"{name}: {set(attributes) - parameters}"


# --- the README ---------------------------------------------------------------


def python_blocks(text: str) -> Iterator[str]:
    yield from re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)


def test_readme_example_runs_and_resolves() -> None:
    (example,) = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    namespace: dict[str, object] = {}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(example, "README.md", "exec"), namespace)
    kit = namespace["kit"]
    inc = namespace["inc"]
    assert isinstance(kit, incidentkit.IncidentKit)
    assert isinstance(inc, incidentkit.Incident)
    assert kit.get(inc.id).status is Status.RESOLVED
    assert output.getvalue().splitlines()[-1] == "resolved True"


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_linked_pages_exist(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    base = (ROOT / page).parent
    for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
        assert (base / target).is_file(), f"{page} links to missing {target}"
