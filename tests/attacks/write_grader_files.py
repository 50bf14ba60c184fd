import glob, os, sys
marker = "\n# SANDBOX-ATTACK-__TOKEN__\n"
paths = glob.glob("__ROOT__/grader/**/*.py", recursive=True) + glob.glob(os.path.join(os.path.dirname(os.__file__), "site-packages", "numpy", "__init__.py"))
paths += [p for d in sys.path for p in glob.glob(os.path.join(d, "*.py"))]
paths += [os.path.expanduser("~/.bashrc"), os.path.expanduser("~/sandbox-attack-__TOKEN__.txt")]
for path in paths:
    try:
        with open(path, "a") as handle:
            handle.write(marker)
    except OSError:
        pass
