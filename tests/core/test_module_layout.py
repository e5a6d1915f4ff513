"""Where things live: errors in ``errors.py``, call machinery outside ``notify``, no reaching in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit import errors, mitigation, notify, oncall

SRC = Path(ik.__file__).resolve().parent


@pytest.mark.parametrize(
    ("name", "old_home"),
    [("TransientFailure", notify), ("CircuitOpen", mitigation), ("MissingExtra", oncall)],
)
def test_every_error_is_defined_in_errors_and_still_importable_from_its_old_home(
    name: str, old_home: object
) -> None:
    cls = getattr(errors, name)
    assert cls.__module__ == "incidentkit.errors"
    assert issubclass(cls, ik.IncidentKitError)
    assert getattr(old_home, name) is cls
    assert getattr(ik, name) is cls
    assert name in errors.__all__


def test_no_exception_class_is_defined_outside_errors() -> None:
    """Exceptions users catch live in errors.py; the CLI's private usage signal is the exception."""
    found: list[str] = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {ast.unparse(base) for base in node.bases}
                if any(b.endswith(("Error", "Exception", "Failure")) for b in bases):
                    found.append(f"{path.relative_to(SRC)}:{node.name}")
    assert found == []


def test_call_machinery_lives_outside_notify() -> None:
    assert notify.run_with_timeout.__module__ == "incidentkit._calls"
    assert notify.retry_delay.__module__ == "incidentkit._calls"
    assert notify.classify_http_status.__module__ == "incidentkit._http"
    assert not (SRC / "notify" / "_delivery.py").exists()
    assert not (SRC / "notify" / "_http.py").exists()


def _package_of(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1])


def test_no_module_imports_another_packages_private_module() -> None:
    offenders: list[str] = []
    for path in SRC.rglob("*.py"):
        package = _package_of(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if not name.startswith("incidentkit."):
                    continue
                parent, _, last = name.rpartition(".")
                if last.startswith("_") and parent != package and parent != "incidentkit":
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []
