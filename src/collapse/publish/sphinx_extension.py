"""A small Sphinx extension for the book's HTML (listed in _config.yml).

Jupyter Book 1 always loads sphinx-thebe, which adds its inline configuration script twice
(``const THEBE_JS_URL`` declared twice: a console error on every page) although this book has
no live-code buttons. This drops thebe's scripts from every page.
"""
from __future__ import annotations


def _is_thebe_script(script) -> bool:
    filename = getattr(script, "filename", None) or str(script)
    body = getattr(script, "attributes", {}).get("body", "")
    return "thebe" in filename or "THEBE_JS_URL" in body


def drop_thebe_scripts(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [script for script in context["script_files"]
                                   if not _is_thebe_script(script)]


def setup(app):
    app.connect("html-page-context", drop_thebe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
