"""Pages have one title of their own, and the reference shows no internals.

A line such as Prometheus' ``# HELP …`` outside a code fence is a Markdown
heading: it would show in the sidebar as a guide entry. The reference is
rendered from docstrings, so those must not send readers to private modules
(``incidentkit._delivery``) or to the project's internal style rules.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import incidentkit
from incidentkit.plugins import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
FENCE = re.compile(r"^(`{3,}|:{3,})")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
PRIVATE = re.compile(r"\bincidentkit(?:\.\w+)*\._[a-z]\w*")
RULE = re.compile(r"\bSTYLE\b|\b[Rr]ule \d+\b")
# The engine's docstrings belong to the engine's owner (issue 17 may not edit
# engine/); they still point at incidentkit._validate for limits.
NOT_YET: tuple[str, ...] = ()


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of every ATX heading outside fenced blocks."""
    found: list[tuple[int, str]] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is not None:
            if (
                opened
                and opened.group(1).startswith(fence)
                and not line[len(opened.group(1)) :].strip()
            ):
                fence = None  # a closing fence: the same character, at least as long, bare
            continue
        if opened:
            fence = opened.group(1)
            continue
        match = HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).strip()))
    return found


def test_headings_ignore_fenced_blocks() -> None:
    text = "# Page\n\n```pycon\n# HELP x\n```\n\n## Section\n# HELP y\n"
    assert headings(text) == [(1, "Page"), (2, "Section"), (1, "HELP y")]


def test_there_are_pages() -> None:
    assert len(PAGES) > 5


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_every_heading_is_the_pages_own(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if text.lstrip().startswith("```{include}"):
        page = DOCS.joinpath(*text.split("}", 1)[1].split("\n", 1)[0].strip().split("/"))
        text = page.resolve().read_text(encoding="utf-8")
    found = headings(text)
    assert found, "the page has no title"
    assert found[0][0] == 1, f"the first heading is not the page title: {found[0]}"
    extra = [text for level, text in found[1:] if level == 1]
    assert not extra, f"headings that are not the page's own sections: {extra}"


def _documented() -> list[tuple[str, str]]:
    """(name, docstring) of every public module and every name in its ``__all__``."""
    found: list[tuple[str, str]] = []
    modules = [incidentkit]
    for info in pkgutil.walk_packages(incidentkit.__path__, "incidentkit."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    for module in modules:
        found.append((module.__name__, inspect.getdoc(module) or ""))
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            doc = inspect.getdoc(value) if callable(value) or inspect.isclass(value) else None
            if doc:
                found.append((f"{module.__name__}.{name}", doc))
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if not attr.startswith("_") and callable(member) and member.__doc__:
                        found.append((f"{module.__name__}.{name}.{attr}", member.__doc__))
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        found.append((f"hookspecs.{name}", function.__doc__ or ""))
    return found


def test_the_reference_names_no_private_module_and_no_internal_rule() -> None:
    bad = [
        f"{name}: {hit.group(0)}"
        for name, doc in _documented()
        if not name.startswith(NOT_YET)
        for pattern in (PRIVATE, RULE)
        for hit in [pattern.search(doc)]
        if hit
    ]
    for page in (DOCS / "reference").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        bad += [f"{page.name}: {m.group(0)}" for p in (PRIVATE, RULE) for m in p.finditer(text)]
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_hook_reference_shows_each_signature_in_its_source() -> None:
    text = (DOCS / "reference" / "hooks.md").read_text(encoding="utf-8")
    names = [
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("incidentkit_") and function.__module__ == hookspecs.__name__
    ]
    assert names
    for name in names:
        signature = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
        assert f"def {name}{signature}: ..." in text, name
