import json, os, sys
fake = json.dumps({"score": 100.0, "max_score": 100.0, "marker": "SANDBOX-ATTACK-__TOKEN__"})
targets = {os.getcwd(), os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm", "/", "/autograder/results", "/work/main", "__ROOT__", "__ROOT__/results", *sys.path}
for directory in sorted(t for t in targets if t):
    for name in ("results.json", "sandbox-attack-__TOKEN__.json"):
        try:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, name), "w") as handle:
                handle.write(fake)
        except OSError:
            pass
