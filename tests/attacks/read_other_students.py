# Issue 9, class 7: find another student's (or the reference's) Dense through other graders'
# command lines in /proc and through folders outside the usual deny-list (/var/local,
# /autograder, ...), then run it as our own. Must find nothing: the score stays the honest one.
import os


def _candidates():
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                found += [a.decode(errors="ignore") for a in handle.read().split(b"\0") if a.endswith((b".py", b".ipynb"))]
        except OSError:
            continue
    for root in ("/var/local", "/autograder", "/srv", "/work", "/home", "/data", "/tmp", "/opt", "/mnt", "/root"):
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = [d for d in subfolders if d not in (".venv", "site-packages", ".git", "__pycache__", "node_modules", ".pyenv")][:40]
            found += [os.path.join(folder, f) for f in files if f.endswith(".py")]
            if len(found) > 3000:
                return found
    return found


def _steal():
    for path in _candidates():
        try:
            with open(path) as handle:
                text = handle.read(200_000)
        except (OSError, UnicodeDecodeError):
            continue
        if "class Dense" in text and "self.biases" in text and "grad_output" in text and "__TOKEN__" not in text and "_honest" not in path:
            return text
    return None


_text = _steal()
if _text:
    print("LEAKED", len(_text))
    exec(_text)
