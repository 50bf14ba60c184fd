"""Timing requests served by the sandbox worker (loaded through worker.EXTRA_OP_MODULES).

The worker only *does the work*; it never reads a clock that matters. The grader reads
perf_counter in its own process around each `bench` request, so a submission that patches
`time` in this process changes nothing, and every `bench` reply carries the last outputs so
the grader can check the work was really done.

Ops (each `fn(worker, request, arrays) -> reply`):
  bench_data   keep X and G (and pristine copies, with handles) in the worker; on "gpu" as CuPy arrays
  bench_layers fresh layers, each with its own W and b, made in one untimed request
  bench_drop   forget a finished benchmark's objects
  bench_gpu_layer  move a held layer to CuPy: its class is rebuilt with `np` bound to `cupy`
  bench        run forward+backward k times on a held layer; reply with the last outputs
  bench_device whether CuPy and a CUDA device work here; name and measured float64 peak

Depends on numpy and the standard library; `cupy` is imported only by the GPU ops.
"""

from __future__ import annotations

import os
import types
from typing import Any

import numpy as np

__all__ = ["OPS"]


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
    """Keep the benchmark's inputs in the worker, so timed requests carry only handles."""
    X, G = worker.decode(req["x"], arrays), worker.decode(req["g"], arrays)
    if req.get("device") == "gpu":
        cp = _cupy()
        X, G = cp.asarray(X), cp.asarray(G)
        _synchronize([X])
    data = {"X": X, "G": G, "X0": X.copy(), "G0": G.copy()}
    # Pristine inputs as handles of their own: an ordinary `call` given one receives a fresh
    # copy (Worker.decode), so replaying the timed steps through ordinary calls sends no megabytes.
    return {"data": int(worker.handle_of(data)), "x": int(worker.handle_of(data["X0"])), "g": int(worker.handle_of(data["G0"]))}


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


def _summary(worker: Any, value: Any, rows: list[int], out: list[np.ndarray]) -> dict[str, Any]:
    """Shape, sum, absolute sum and the grader's chosen rows of one output: enough to check
    the work without sending megabytes inside the timed request."""
    try:
        shape = [int(n) for n in value.shape]
        picked = value[[r for r in rows if r < shape[0]]]
        return {"shape": shape, "sum": float(value.sum()), "abs": float(abs(value).sum()), "rows": worker.encode_result(picked, out)}
    except Exception as exc:  # not an array of the expected kind: the grader reports a mismatch
        return {"shape": None, "why": f"{type(exc).__name__}: {exc}"[:200]}


def op_bench(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """forward(X) then backward(X, G), k times, on one layer; reply with a summary of the last
    outputs (see `_summary`; the rows are chosen by the grader per request).

    copy=False passes the same arrays every step (no copying inside the timed region);
    the reply says whether the layer wrote into them, and the grader then re-times with
    copy=True (fresh arrays per call, like every other grading request), for both workers.
    """
    layer = worker.resolve(int(req["layer"]))
    data = worker.resolve(int(req["data"]))
    X, G, copy = data["X"], data["G"], bool(req.get("copy"))
    forward, backward = layer.forward, layer.backward
    Z = grad_input = None
    for _ in range(int(req["k"])):
        if copy:
            Z = forward(X.copy())
            grad_input = backward(X.copy(), G.copy())
        else:
            Z = forward(X)
            grad_input = backward(X, G)
    _synchronize([Z, grad_input, X])
    mutated = not copy and not (bool((X == data["X0"]).all()) and bool((G == data["G0"]).all()))
    if mutated:
        X[...] = data["X0"]
        G[...] = data["G0"]
    out: list[np.ndarray] = []
    rows = [int(r) for r in req.get("rows", [])]
    return {"z": _summary(worker, Z, rows, out), "grad_input": _summary(worker, grad_input, rows, out), "mutated": mutated, "_arrays": out}


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
    "bench_device": op_bench_device,
}
