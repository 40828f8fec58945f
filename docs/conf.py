"""Sphinx configuration of eamp's documentation (``sphinx-build -W docs docs/_build/html``;
``-b doctest`` runs the code on its pages)."""

import eamp

project = "eamp"
author = "the eamp authors"
release = version = eamp.__version__
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
myst_enable_extensions = ["dollarmath", "colon_fence"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"eamp {version}"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields, not duplicate objects of dataclasses
# a bare name such as ``dataset`` may be a field of several classes: not an error
suppress_warnings = ["ref.python"]
# the pages include results files from the repository (results/, CHANGELOG.md)
myst_heading_anchors = 3
