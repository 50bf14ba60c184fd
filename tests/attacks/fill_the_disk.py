# Class 11: fill the disk. About 2.5 GB in 8 MB chunks to every writable place (the working
# folder, HOME, /tmp, /dev/shm, /var/tmp): the folder was on the grader's disk, so one student
# could fill it and kill the batch. Now all of them share one private, size-capped tmpfs.
import os as _os

_block = b"\x5a" * (8 << 20)
for _place in (_os.getcwd(), _os.environ.get("HOME", "."), "/tmp", "/dev/shm", "/var/tmp"):
    try:
        with open(_os.path.join(_place, "sandbox-attack-__TOKEN__.bin"), "ab") as _f:
            for _ in range(64):
                _f.write(_block)
                _f.flush()
    except OSError:
        pass
