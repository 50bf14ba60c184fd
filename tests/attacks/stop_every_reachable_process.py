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


class Dense(Dense):
    def forward(self, input):
        _stop_everyone()
        return super().forward(input)


_stop_everyone()
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
os._exit(3)
