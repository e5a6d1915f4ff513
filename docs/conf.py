"""Sphinx configuration for the incidentkit documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The build must work offline and produce zero warnings.
"""

from __future__ import annotations

from importlib.metadata import version as _version
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes

if TYPE_CHECKING:
    from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent

# -- Project -----------------------------------------------------------------

project = "incidentkit"
author = "incidentkit developers"
copyright = "incidentkit developers"
release = _version("incidentkit")
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_scripts", "_inventories", "Thumbs.db", ".DS_Store"]
nitpicky = False

# -- MyST --------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon ------------------------------------------------------

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- intersphinx -------------------------------------------------------------
#
# The build machines have no network, and a failed inventory fetch is a
# warning (fatal under -W). So each inventory is read from a file committed in
# docs/_inventories/ (refresh them with docs/_scripts/fetch_inventories.py on a
# machine with network access). A project whose file is missing is left out of
# the mapping: its names render as plain text instead of links, and the build
# stays offline and warning-free.

_INVENTORIES = {
    "python": "https://docs.python.org/3",
    "attrs": "https://www.attrs.org/en/stable",
    "cattrs": "https://catt.rs/en/stable",
    "pluggy": "https://pluggy.readthedocs.io/en/stable",
}
intersphinx_mapping = {
    name: (url, str(DOCS / "_inventories" / f"{name}.inv"))
    for name, url in _INVENTORIES.items()
    if (DOCS / "_inventories" / f"{name}.inv").is_file()
}
intersphinx_timeout = 5

# -- doctest -----------------------------------------------------------------
#
# The pages' ``>>>`` examples run under pytest (``--doctest-glob=*.md``);
# ``sphinx-build -b doctest`` is not part of ``make docs``.

doctest_global_setup = "import incidentkit as ik"

# -- Warnings ----------------------------------------------------------------

# Nothing is suppressed: every warning is a bug in the docs or the docstrings.
suppress_warnings: list[str] = []

# -- HTML --------------------------------------------------------------------

html_theme = "furo"
html_title = f"incidentkit {release}"
html_static_path: list[str] = []


# -- Local tweaks ------------------------------------------------------------


def _trim_example_blocks(app: object, doctree: nodes.document) -> None:
    """Drop trailing blank lines from code blocks.

    pytest runs every ``>>>`` example in the Markdown pages, and a doctest's
    expected output runs until a blank line: so each example block ends with
    one, or the closing fence would be read as output. Readers need not see it.
    """
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if block.rawsource == text and text != text.rstrip("\n"):
            trimmed = text.rstrip("\n")
            block.rawsource = trimmed
            block.children = [nodes.Text(trimmed)]


def _public_bases(app: Sphinx, name: str, obj: object, options: object, bases: list[type]) -> None:
    """Leave private base classes (``IncidentKit``'s command section) out of "Bases:"."""
    bases[:] = [b for b in bases if not b.__module__.startswith("incidentkit._")] or [object]


def setup(app: Sphinx) -> dict[str, bool]:
    """Register the local tweaks."""
    app.connect("doctree-read", _trim_example_blocks)
    app.connect("autodoc-process-bases", _public_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
