"""Sphinx extension that lets embedded ipywidgets render from the site's own files.

myst-nb loads ipywidgets' HTML widget manager from a CDN by default, so the book
sets ``nb_ipywidgets_js`` to the copy vendored in ``_static/vendor/html-manager``
(@jupyter-widgets/html-manager 1.0.15, BSD-3-Clause). That manager typesets
widget labels with the MathJax 2 call ``MathJax.Hub.Queue``, which MathJax 3
lacks, so every page with a widget raised "Cannot read properties of undefined
(reading 'Queue')". ``_static/mathjax_hub_shim.js`` maps the call onto MathJax
3's ``typesetPromise``. It is deferred and registered after MathJax (priority
500), so it runs once MathJax has replaced its configuration object.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_js_file("mathjax_hub_shim.js", priority=600, loading_method="defer")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
