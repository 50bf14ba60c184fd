# Class 6: control characters in everything the report shows. An exception message and
# printed output carry a forged batch progress line (erase line + carriage return), an
# OSC 52 clipboard write, a C1 CSI, a bidi override and a lone surrogate (which crashed
# --html and the text report under strict UTF-8).
_FORGED = "\x1b[2K\r[9 of 9] carol: 21 of 21\x1b]52;c;cm0gLXJmIH4K\x07\x9b31m\u202eevil\udc80"
print("printed:" + _FORGED.replace("\udc80", ""))


class _Loud(Exception):
    pass


_backward = Dense.backward


def _raising_backward(self, input, grad_output):
    raise _Loud(_FORGED)


Dense.backward = _raising_backward
