"""Grade each function on its own: while one is called, the other graded names are the reference's.

A mistake in `linear_forward` then costs `linear_forward`'s checks, not `L_model_forward`'s.
A small shim, defined in the student's namespace, swaps the other graded names for the
reference's around one call and turns dicts (deeplearning.ai's `parameters`, `grads`) into
lists of [key, value] pairs both ways, since only numbers, strings, arrays and lists travel.
The reference runs compiled from a string (no file for `inspect` to read) in a namespace of
its own, and only while the student's process grades.
"""

from __future__ import annotations

from typing import Any

from ..assignment import load_reference
from ..errors import StudentFailure

__all__ = ["call_isolated", "call_chain", "pairs", "from_pairs"]

SHIM = '''
__grader_reference = {}

def __grader_load_reference(source):
    __grader_reference.clear()
    exec(compile(source, "<reference>", "exec"), __grader_reference)

def __grader_plain(value):
    if isinstance(value, dict):
        return [[str(k), __grader_plain(v)] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [__grader_plain(v) for v in value]
    return value

def __grader_isolated(name, others, dict_args, *args):
    g = globals()
    args = [dict((k, v) for k, v in a) if i in dict_args else a for i, a in enumerate(args)]
    saved = {k: g[k] for k in others if k in g}
    for k in others:
        if k in __grader_reference:
            g[k] = __grader_reference[k]
    try:
        return __grader_plain(g[name](*args))
    finally:
        for k in others:
            if k in saved:
                g[k] = saved[k]
            else:
                g.pop(k, None)
'''


def _install(ctx: Any) -> None:
    key = ("isolation", ctx.session.generation)
    if ctx.cache.get("isolation") == key:
        return
    ctx.session.define(SHIM, "grader isolation shim")
    source = ctx.assignment.reference.read_text() if ctx.assignment.reference is not None else ""
    load_reference(ctx.assignment)  # one clear sentence when the file is missing
    ctx.session.call("__grader_load_reference", source, what="loading the grader's reference")
    ctx.cache["isolation"] = key


def call_isolated(ctx: Any, name: str, *args: Any, dicts: tuple[int, ...] = (), isolate: bool = True) -> Any:
    """Call the student's `name` with the other graded names the reference's; dict arguments by position."""
    _install(ctx)
    others = [n for n in ctx.assignment.graded_names if n != name] if isolate else []
    sent = [pairs(a) if i in dicts else a for i, a in enumerate(args)]
    return ctx.session.call("__grader_isolated", name, others, list(dicts), *sent, what=name)


def call_chain(ctx: Any, names: list[str], source: str, *args: Any, isolate: bool = False) -> Any:
    """Run grader code (`source` defines `__grader_chain`) that calls the student's `names`: with
    the rest of their code as it is, or (`isolate`) with every other graded name the reference's."""
    _install(ctx)
    ctx.session.define(source, "grader chain")
    graded = [n.split(".")[0] for n in names]
    others = [n for n in ctx.assignment.graded_names if n not in graded] if isolate else []
    return ctx.session.call("__grader_isolated", "__grader_chain", others, [], *args, what=" -> ".join(names))


def pairs(mapping: dict[str, Any]) -> list[list[Any]]:
    return [[k, v] for k, v in mapping.items()]


def from_pairs(value: Any, what: str) -> dict[str, Any]:
    """A dict the shim sent as [key, value] pairs; anything else is the student's wrong type."""
    if isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in value):
        return {k: v for k, v in value}
    raise StudentFailure("interface-changed", f"{what} should be a dict (keys like \"W1\", \"dW1\"), got {type(value).__name__}.")
