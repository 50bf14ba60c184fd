# Class 6: forge the worker's replies with the wrong types. Student code can reach the
# reply channel (the worker object is one gc walk away) and the `protocol` module: it
# writes its own reply and swallows the real one, so the channel stays in step. Every
# field the grader reads gets the wrong type: a string line number, lists for dicts,
# a string progress index, lists nested a thousand deep.
import gc as _gc
import sys as _sys

_protocol = _sys.modules["protocol"]
_write = _protocol.write_message
_fd = next(o for o in _gc.get_objects() if type(o).__name__ == "Worker").reply_fd
_deep = {"t": "l", "items": []}
for _ in range(900):
    _deep = {"t": "l", "items": [_deep]}


def _forge(reply):
    def swallow_once(*args, **kwargs):
        _protocol.write_message = _write  # the real reply of this request is dropped
    _write(_fd, {"progress": "not a number"})
    _write(_fd, reply)
    _protocol.write_message = swallow_once


_forge({"ok": True, "statements": [{"stmt": 0, "line": "twelve", "status": "error", "error": "not a dict"},
                                   {"stmt": True, "line": [1], "status": ["x"], "error": {"type": ["x"], "line": "9", "locals": [1]}},
                                   "junk", 7]})

_calls = [0]
_REPLIES = [
    {"ok": False, "error": {"type": ["ValueError"], "message": {"a": 1}, "line": "12", "where": 5, "locals": [1, 2], "traceback": 3}},
    {"ok": False, "error": "a string where a record goes"},
    {"ok": True, "result": _deep, "args": 7, "values": [1], "data": "x", "layers": "y", "z": {"shape": ["a"], "sum": "s"}, "grad_input": 5},
    {"ok": True, "result": {"t": "l", "items": "not a list"}, "names": {"Dense": {"kind": ["class"], "methods": [1, 2]}}},
]


def _forward(self, input):
    _calls[0] += 1
    _forge(_REPLIES[_calls[0] % len(_REPLIES)])
    return input @ self.weights


Dense.forward = _forward
