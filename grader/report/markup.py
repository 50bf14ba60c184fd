"""The element builder shared by the HTML pages and their inline SVG plots.

Pages are never built by formatting strings into markup: `el` escapes every attribute value
and every plain string it is given and passes through only `Markup` it built itself, so
text from a student (messages, file names, labels in a check's details) stays text.
"""

from __future__ import annotations

import html
from typing import Iterable, Union

__all__ = ["Markup", "Content", "el"]

VOID = frozenset({"img", "meta"})
"""HTML elements without a closing tag (SVG elements are closed explicitly: valid XML)."""


class Markup(str):
    """Markup that `el` built itself (already escaped)."""


Content = Union[str, Markup, Iterable["Content"], None]


def _render(content: Content) -> str:
    if content is None:
        return ""
    if isinstance(content, Markup):
        return str(content)
    if isinstance(content, str):
        return html.escape(content, quote=True)
    return "".join(_render(c) for c in content)


def el(tag: str, *children: Content, **attrs: object) -> Markup:
    """<tag attrs>children</tag>, escaping every attribute value and every plain string.

    Attribute names: a trailing `_` is dropped (`class_`) and `_` becomes `-` (`font_size`)."""
    rendered = "".join(f' {name.rstrip("_").replace("_", "-")}="{html.escape(str(value), quote=True)}"' for name, value in attrs.items())
    if tag in VOID:
        return Markup(f"<{tag}{rendered}>")
    return Markup(f"<{tag}{rendered}>{_render(children)}</{tag}>")
