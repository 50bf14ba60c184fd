# Issue 9, class 4a: a Python loop over samples and outputs (honestly far too slow for timing
# points, ~100x the reference) whose forked helpers burn every core while the reference twin
# is timed and pause while this layer runs, so the reference looks slow and the ratio good.
# Timing must score it 0, as it does honestly.
import mmap
import os
import time

_busy = mmap.mmap(-1, 1)
_helpers = []


def _burn_while_idle():
    while True:
        if _busy[0] == 0:
            started = time.perf_counter()
            while time.perf_counter() - started < 0.002:
                pass
        else:
            time.sleep(0.0002)


def _ensure_helpers():
    for pid in list(_helpers):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                _helpers.remove(pid)
        except ChildProcessError:
            _helpers.remove(pid)
    while len(_helpers) < 3:
        pid = os.fork()
        if pid == 0:
            _burn_while_idle()
        _helpers.append(pid)


class Dense(Dense):
    def forward(self, input):
        _ensure_helpers()
        _busy[0] = 1
        try:
            out = np.empty((input.shape[0], self.weights.shape[1]))
            for n in range(input.shape[0]):
                for j in range(self.weights.shape[1]):
                    out[n, j] = input[n] @ self.weights[:, j]
            return out
        finally:
            _busy[0] = 0

    def backward(self, input, grad_output):
        _busy[0] = 1
        try:
            grad_input = np.empty(input.shape)
            for n in range(input.shape[0]):
                for i in range(input.shape[1]):
                    grad_input[n, i] = grad_output[n] @ self.weights[i]
            return grad_input
        finally:
            _busy[0] = 0
