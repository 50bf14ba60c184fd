import signal
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)
n = 0
for n in range(10**10):  # spins far past every limit; bounded so a broken sandbox still ends
    pass
