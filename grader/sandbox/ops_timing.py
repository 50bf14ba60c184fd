"""Timing requests served by the sandbox worker (loaded through worker.EXTRA_OP_MODULES).

The worker only *does the work*; it never reads a clock that matters. The grader reads
its clock in its own process around each `bench` request, so a submission that patches
`time` in this process changes nothing. Every timed call must return a plain array, which is
copied at once into the grader's slots; after the request the grader asks, before it stops
its clock, for the full outputs of steps it names only then, so no call can tell whether it
is the one verified.

Ops (each `fn(worker, request, arrays) -> reply`):
  bench_data   keep a pool of distinct (X, G) pairs (and pristine copies, with handles); on "gpu" as CuPy arrays
  bench_layers fresh layers, each with its own W and b, made in one untimed request
  bench_drop   forget a finished benchmark's objects
  bench_gpu_layer  move a held layer to CuPy: its class is rebuilt with `np` bound to `cupy`
  bench_ring   make the slots the timed calls' outputs are copied into (untimed)
  bench        run forward+backward on a held layer, one pool pair per step; copy each output
  bench_outputs  the full outputs of the steps the grader picked afterwards (inside its clock)
  bench_inputs whether the layer wrote into the pool's inputs (restored if so)
  bench_device whether CuPy and a CUDA device work here; name and measured float64 peak

Depends on numpy and the standard library; `cupy` is imported only by the GPU ops.
"""

from __future__ import annotations

import os
import types
from typing import Any

import numpy as np

__all__ = ["OPS"]

_ndarray, _type = np.ndarray, type
"""Taken when the worker loads, before any student code runs: a submission that rebinds
`numpy.ndarray` or `builtins.type` later does not change what the timed calls are checked against."""


def _cupy() -> Any:
    """Import CuPy on first GPU use, with TF32 off so float32 matmuls stay IEEE float32."""
    os.environ["CUPY_TF32"] = "0"
    import cupy  # noqa: PLC0415 - lazy on purpose: CPU grading never pays for it

    return cupy


def _synchronize(arrays: list[Any]) -> None:
    """Wait for queued GPU work, so the grader's clock covers it (no-op on the CPU)."""
    if any(hasattr(a, "__cuda_array_interface__") for a in arrays):
        _cupy().cuda.runtime.deviceSynchronize()


# -- moving a submission's layer to the GPU ------------------------------------------------
def _gpu_globals(namespace: dict[str, Any], cp: Any) -> dict[str, Any]:
    """A copy of the submission's globals with numpy (and names imported from it) bound to CuPy,
    so creation calls such as `np.zeros(shape)` make device arrays."""
    bound = dict(namespace)
    for name, value in namespace.items():
        if value is np:
            bound[name] = cp
        elif callable(value) and str(getattr(value, "__module__", "") or "").startswith("numpy") and hasattr(cp, getattr(value, "__name__", "")):
            bound[name] = getattr(cp, value.__name__)
    return bound


def _rebind_function(fn: types.FunctionType, globals_: dict[str, Any], owner: type | None) -> types.FunctionType:
    closure = fn.__closure__
    if closure is not None and owner is not None and "__class__" in fn.__code__.co_freevars:
        closure = tuple(types.CellType(owner) if name == "__class__" else cell for name, cell in zip(fn.__code__.co_freevars, closure))
    new = types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, closure)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update(fn.__dict__)
    return new


def _rebind_class(cls: type, globals_: dict[str, Any], memo: dict[type, type]) -> type:
    """The class (and its submission-defined bases) rebuilt with functions over `globals_`;
    `super()` cells point at the rebuilt classes."""
    if cls in memo or cls.__module__ != "__main__":
        return memo.get(cls, cls)
    bases = tuple(_rebind_class(base, globals_, memo) for base in cls.__bases__)
    body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    new = type(cls)(cls.__name__, bases, body)
    for key, value in body.items():
        if isinstance(value, types.FunctionType):
            setattr(new, key, _rebind_function(value, globals_, new))
        elif isinstance(value, (staticmethod, classmethod)) and isinstance(value.__func__, types.FunctionType):
            setattr(new, key, type(value)(_rebind_function(value.__func__, globals_, new)))
        elif isinstance(value, property):
            parts = [_rebind_function(f, globals_, new) if isinstance(f, types.FunctionType) else f for f in (value.fget, value.fset, value.fdel)]
            setattr(new, key, property(*parts, value.__doc__))
    memo[cls] = new
    if globals_.get(cls.__name__) is cls:
        globals_[cls.__name__] = new
    return new


def _layer_to_gpu(worker: Any, layer: Any, cp: Any) -> None:
    """Rebind the layer's class to the CuPy-bound copy and move its array attributes."""
    globals_ = worker.cache_gpu_globals if hasattr(worker, "cache_gpu_globals") else None
    if globals_ is None:
        globals_ = _gpu_globals(worker.namespace, cp)
        worker.cache_gpu_globals = globals_
        worker.cache_gpu_classes = {}
    layer.__class__ = _rebind_class(type(layer), globals_, worker.cache_gpu_classes)
    for name, value in list(vars(layer).items()):
        if isinstance(value, np.ndarray):
            setattr(layer, name, cp.asarray(value))


# -- ops --------------------------------------------------------------------------------------
def op_bench_data(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Keep the benchmark's inputs in the worker, so timed requests carry only handles: a pool
    of distinct (X, G) pairs, the rows of X and of G each shuffled by the grader's orders, and a
    pristine copy of each (with handles: an ordinary `call` given one receives a fresh copy,
    so replaying the timed steps through ordinary calls sends no megabytes)."""
    X, G = worker.decode(req["x"], arrays), worker.decode(req["g"], arrays)
    orders = worker.decode(req["orders"], arrays)  # (pool, 2, N): row orders of X and of G per pair
    xp = np
    if req.get("device") == "gpu":
        xp = _cupy()
        X, G, orders = xp.asarray(X), xp.asarray(G), xp.asarray(orders)
    pool = [(X[orders[p, 0]], G[orders[p, 1]]) for p in range(int(orders.shape[0]))]
    pristine = [(x.copy(), g.copy()) for x, g in pool]
    _synchronize([X])
    data = {"pool": pool, "pristine": pristine, "ring": None, "xp": xp}
    held = [[int(worker.handle_of(x)), int(worker.handle_of(g))] for x, g in pristine]
    return {"data": int(worker.handle_of(data)), "held": held}


def op_bench_layers(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Fresh layers `Dense(in, out, learning_rate=lr)`, one per (W, b) sent (on the GPU when
    asked): one untimed request instead of two per timed round. Every round gets different
    parameters, so outputs remembered from an earlier round are wrong in the next."""
    cls = worker.namespace[str(req.get("class", "Dense"))]
    handles = []
    for w, b in zip(req["ws"], req["bs"]):
        layer = cls(int(req["n_in"]), int(req["n_out"]), learning_rate=float(req["lr"]))
        layer.weights, layer.biases = worker.decode(w, arrays), worker.decode(b, arrays)
        if req.get("device") == "gpu":
            _layer_to_gpu(worker, layer, _cupy())
        handles.append(int(worker.handle_of(layer)))
    return {"layers": handles}


def op_bench_drop(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Forget objects of a finished benchmark (a reference worker serves many gradings).
    Slots are emptied, not removed: handles are numbered by the table's length."""
    for handle in req.get("handles", []):
        if int(handle) in worker.objects:
            worker.objects[int(handle)] = None
    return {}


def op_bench_gpu_layer(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Move one held layer to the GPU (each timed round uses a fresh layer)."""
    _layer_to_gpu(worker, worker.resolve(int(req["layer"])), _cupy())
    return {}


def op_bench_ring(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Make (untimed) the grader's memory for the outputs of the next timed requests: k slots
    per output, of the dtype and shape every timed call must return, pages touched now so the
    copies inside the clock never fault them in."""
    data = worker.resolve(int(req["data"]))
    xp = data["xp"]
    k, shapes, dtypes = int(req["k"]), [tuple(int(n) for n in s) for s in req["shapes"]], [str(d) for d in req["dtypes"]]
    ring = [xp.empty((k, *shape), dtype) for shape, dtype in zip(shapes, dtypes)]
    for slots in ring:
        slots.fill(0)  # written, not calloc'd: no page is first touched inside the clock
    _synchronize(ring)
    data["ring"] = {"k": k, "slots": ring, "shapes": shapes, "dtypes": dtypes}
    return {}


def _stand_in(value: Any, plain: type, dtype: str, shape: tuple[int, ...]) -> str:
    """'' when `value` is exactly the array type of the race with this dtype and shape; else what it is."""
    if _type(value) is not plain:
        kind = _type(value)
        try:
            return f"a {'' if kind.__module__ == '__main__' else kind.__module__ + '.'}{kind.__qualname__}"[:120]
        except Exception:  # a metaclass that hides its names
            return "an object of another type"
    if value.dtype != dtype:
        return f"an array of {value.dtype}"
    if value.shape != shape:
        return f"an array of shape {tuple(value.shape)}"
    return ""


def op_bench(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """forward(X) then backward(X, G) on one layer, once per entry of `order` (the pool pair
    each step takes). Right after each call the result must be exactly a plain array of the
    race's type (numpy.ndarray; cupy.ndarray on the GPU) with the expected dtype and shape,
    and is copied into the grader's slot for that step; a stand-in stops the request. The
    grader reads the clock around the request; which slots it verifies it decides afterwards.

    copy=False passes the pool's arrays themselves (no copying inside the timed region); the
    grader's `bench_inputs` then says whether the layer wrote into them, and later requests
    use copy=True (fresh arrays per call, like every other grading request), for both workers.
    """
    layer = worker.resolve(int(req["layer"]))
    data = worker.resolve(int(req["data"]))
    ring, pool, copy = data["ring"], data["pool"], bool(req.get("copy"))
    order = [int(p) for p in req["order"]]
    if ring is None or len(order) > ring["k"]:
        raise ValueError("grader bug: bench before bench_ring")
    plain = _ndarray if data["xp"] is np else data["xp"].ndarray
    (z_slots, gi_slots), (z_shape, gi_shape), (z_dtype, gi_dtype) = ring["slots"], ring["shapes"], ring["dtypes"]
    forward, backward = layer.forward, layer.backward
    for step, p in enumerate(order):
        X, G = pool[p]
        if copy:
            X, G = X.copy(), G.copy()
        Z = forward(X)
        what = _stand_in(Z, plain, z_dtype, z_shape)
        if what:
            return {"stand_in": {"output": "forward", "step": step, "what": what}}
        z_slots[step][...] = Z
        if copy:
            X = X.copy()
        grad_input = backward(X, G)
        what = _stand_in(grad_input, plain, gi_dtype, gi_shape)
        if what:
            return {"stand_in": {"output": "backward", "step": step, "what": what}}
        gi_slots[step][...] = grad_input
    _synchronize([z_slots, gi_slots])
    return {"steps": len(order)}


def op_bench_outputs(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Right after a timed request, inside the grader's clock: the full outputs of the steps the
    grader picked, from the slots filled at the calls."""
    slots = worker.resolve(int(req["data"]))["ring"]["slots"]
    out: list[np.ndarray] = []
    chosen = [[worker.encode_result(outputs[int(j)], out) for outputs in slots] for j in req.get("steps", [])]
    return {"outputs": chosen, "_arrays": out}


def op_bench_inputs(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """(Untimed) whether the layer wrote into the pool pairs it was handed; they are restored
    from their pristine copies."""
    data = worker.resolve(int(req["data"]))
    mutated = False
    for p in sorted({int(p) for p in req.get("used", [])}):
        (X, G), (X0, G0) = data["pool"][p], data["pristine"][p]
        if not (bool((X == X0).all()) and bool((G == G0).all())):
            mutated = True
            X[...], G[...] = X0, G0
    return {"mutated": mutated}


def op_bench_device(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Whether CuPy runs here; the device's name and its measured float64 GEMM rate (the 'peak')."""
    try:
        cp = _cupy()
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # ImportError, CUDARuntimeError, driver missing
        return {"available": False, "why": f"{type(exc).__name__}: {exc}"[:300]}
    if count < 1:
        return {"available": False, "why": "no CUDA device"}
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    peak = 0.0
    if req.get("measure_peak"):
        import time  # the device's own rate, for a ratio; not a grading clock

        n = 4096
        a = cp.random.standard_normal((n, n))
        b = cp.random.standard_normal((n, n))
        (a @ b).sum()
        cp.cuda.runtime.deviceSynchronize()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            a @ b
            cp.cuda.runtime.deviceSynchronize()
            best = min(best, time.perf_counter() - start)
        peak = 2.0 * n**3 / best
    return {"available": True, "name": name, "peak_flops": peak}


OPS = {
    "bench": op_bench,
    "bench_data": op_bench_data,
    "bench_layers": op_bench_layers,
    "bench_gpu_layer": op_bench_gpu_layer,
    "bench_drop": op_bench_drop,
    "bench_ring": op_bench_ring,
    "bench_outputs": op_bench_outputs,
    "bench_inputs": op_bench_inputs,
    "bench_device": op_bench_device,
}
