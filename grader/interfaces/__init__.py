"""One adapter per form of the homework, and the canonical layer they present.

`interface_from_toml` reads an assignment's `[interface]` table; `LayerAdapter` turns the
student's code of that form into the canonical affine layer the checks are written against;
`form_fixes` words each mistake's fix in the form's names. See DESIGN.md §2a.
"""

from __future__ import annotations

from .layer import Grads, LayerAdapter, StudentCase
from .spec import Interface, Names, interface_from_toml
from .words import form_fixes, form_words

__all__ = ["Interface", "Names", "interface_from_toml", "LayerAdapter", "StudentCase", "Grads", "form_fixes", "form_words"]
