# Issue 9, class 1 (timing won without the work): at the timing benchmark's batch size forward
# and backward return an ndarray subclass made at once (np.empty, no arithmetic) whose values
# are computed only when something reads them (numpy operations, tobytes, __array__, indexing).
# The timed calls then cost nothing, and only the reply that is checked does the work: timing
# must score 0 (or the deferred values must be computed inside the timed region).
class _Deferred(np.ndarray):
    def __array_finalize__(self, obj):
        self._thunk = getattr(obj, "_thunk", None)

    def _force(self):
        thunk, self._thunk = self._thunk, None
        if thunk is not None:
            np.ndarray.__setitem__(self, Ellipsis, thunk())
        return self.view(np.ndarray)

    def __array__(self, dtype=None, copy=None):
        plain = self._force()
        return plain if dtype is None else plain.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(x._force() if isinstance(x, _Deferred) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __getitem__(self, key):
        return self._force()[key]

    def tobytes(self, order="C"):
        return self._force().tobytes(order)

    def copy(self, order="C"):
        return self._force().copy(order)

    def astype(self, *args, **kwargs):
        return self._force().astype(*args, **kwargs)


def _deferred(shape, thunk):
    out = np.empty(shape).view(_Deferred)
    out._thunk = thunk
    return out


class Dense(Dense):
    def forward(self, input):
        if input.shape[0] > 1000:
            return _deferred((input.shape[0], self.weights.shape[1]), lambda: Dense.__mro__[1].forward(self, input))
        return super().forward(input)

    def backward(self, input, grad_output):
        if input.shape[0] > 1000:
            return _deferred(input.shape, lambda: Dense.__mro__[1].backward(self, input, grad_output))
        return super().backward(input, grad_output)
