"""Sphinx extension that drops repeated inline scripts from each HTML page.

With Sphinx 7.4, sphinx-thebe 0.3 (loaded by jupyter-book) registers its
inline configuration script twice, once with filename ``None`` and once with
``""``. Sphinx compares scripts by filename, so both reach the page and the
browser raises "Identifier 'THEBE_JS_URL' has already been declared". This
handler keeps the first of any scripts that agree in source, priority and
attributes, counting ``None`` and ``""`` as the same missing filename.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def script_key(script: Any) -> tuple[Any, ...]:
    """Return what makes a script distinct: its file (or none), priority and attributes."""
    filename = getattr(script, "filename", None) or ""
    priority = getattr(script, "priority", None)
    attributes = getattr(script, "attributes", {})
    return (filename, priority, tuple(sorted(attributes.items())))


def drop_repeated_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Remove later copies of a script from the page's ``script_files``."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for script in scripts:
        key = script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    # Run after other handlers, so scripts they add are checked too.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
