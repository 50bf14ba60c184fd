import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(1.5)
        for path in ("__ROOT__/sandbox-attack-__TOKEN__.late", "/tmp/sandbox-attack-__TOKEN__.late", os.path.expanduser("~/sandbox-attack-__TOKEN__.late")):
            try:
                open(path, "w").write("late")
            except OSError:
                pass
        time.sleep(60)
    os._exit(0)
time.sleep(0.1)
