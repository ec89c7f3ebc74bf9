"""Sphinx extension that serves MathJax 3 from the built site instead of a CDN.

The site must work offline and load nothing from other hosts, so the HTML
builder copies MathJax from the ``django-static-mathjax`` package (MathJax
3.2.2, installed by requirements.txt) into ``_static/mathjax`` and points
``mathjax_path`` at it. The copy contains the ``tex-mml-chtml`` bundle and the
components it loads on demand (TeX extensions, CHTML fonts, accessibility and
menu modules). It leaves out the other combined bundles and the SVG output.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

BUNDLE = "tex-mml-chtml.js"
STATIC_SUBDIR = "mathjax"


def mathjax_es5_dir() -> Path:
    """Return the folder of MathJax's es5 build inside the installed package.

    Raises:
        ExtensionError: If django-static-mathjax is not installed.
    """
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            "MathJax not found because the Python package 'mathjax' is missing. "
            "Install django-static-mathjax (listed in requirements.txt)."
        )
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / BUNDLE).is_file():
        raise ExtensionError(f"MathJax bundle {BUNDLE} not found in {es5}; reinstall django-static-mathjax")
    return es5


def use_local_mathjax(app: Sphinx, config: Config) -> None:
    """Point ``mathjax_path`` at the copy under ``_static``."""
    mathjax_es5_dir()
    config.mathjax_path = f"{STATIC_SUBDIR}/{BUNDLE}"


def skip_unused(folder: str, names: list[str]) -> set[str]:
    """Leave out bundles other than ``tex-mml-chtml.js`` and the SVG output."""
    folder_path = Path(folder)
    skipped = set()
    for name in names:
        path = folder_path / name
        is_other_bundle = path.suffix == ".js" and folder_path.name == "es5" and name != BUNDLE
        is_svg_output = folder_path.name == "output" and name == "svg"
        if is_other_bundle or is_svg_output:
            skipped.add(name)
    return skipped


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """Copy MathJax into the HTML output once the build has succeeded."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / STATIC_SUBDIR
    shutil.copytree(mathjax_es5_dir(), target, ignore=skip_unused, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
