"""`layer.timing`: the timing race for a form of functions, through the `Dense` wrapper.

The race itself is the classic form's (grader/checks/timing.py): the same rounds, curve,
verified outputs and lock. This check defines the wrapper (grader/interfaces/as_dense.py) in
the student's worker first (the reference's twin gets it from `reference_submission`), then
words the race's messages in the form's names.
"""

from __future__ import annotations

import dataclasses

from ..interfaces.as_dense import dense_wrapper_source
from . import register
from .base import CheckContext, Outcome
from .layer import layer_adapter
from .timing import timing_check


@register("layer.timing")
def check_layer_timing(ctx: CheckContext) -> Outcome:
    """forward+backward of the form's functions within a generous factor of the reference's time."""
    adapter = layer_adapter(ctx)
    ctx.session.define(dense_wrapper_source(adapter.interface), "the grader's timing wrapper")
    ctx.cache.pop("names", None)  # the wrapper is a new name: describe the submission again
    # The wrapper sums over the batch whatever the form does (grader/interfaces/as_dense.py).
    outcome = timing_check(dataclasses.replace(ctx, assignment=dataclasses.replace(ctx.assignment, batch_convention="sum")))
    mine = f"your {adapter.call_name('forward')} and {adapter.call_name('backward')}"
    outcome.messages = [m.replace("Your Dense took", f"{mine[0].upper() + mine[1:]} took").replace("Your Dense is", f"{mine[0].upper() + mine[1:]} are").replace("your Dense", mine) for m in outcome.messages]
    return outcome
