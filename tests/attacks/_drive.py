"""Grade files one after another in ONE grader process (so one fork server), print scores as JSON.

Used by tests/test_sandbox_attacks.py in a subprocess with an outer timeout: the attack is
graded first, then an honest submission, which must still get its full score. Timeouts are
shortened (a real assignment, only its sandbox limits changed) to keep the suite fast.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from grader.assignment import load_assignment
from grader.engine import grade_file


def main() -> None:
    assignment = load_assignment()
    # slicing off: the attacks' top-level code must really run for the sandbox to be tested.
    sandbox = dataclasses.replace(assignment.sandbox, statement_timeout=1.0, request_timeout=2.0, startup_timeout=10.0, slicing=False)
    assignment = dataclasses.replace(assignment, sandbox=sandbox)
    results = []
    for path in sys.argv[1:]:
        report = grade_file(path, assignment=assignment)
        results.append({"path": path, "score": report.score, "max_score": report.max_score, "diagnoses": list(report.diagnoses), "notes": list(report.notes), "time": report.execution_time,
                        "checks": {t.name: [t.score, t.max_score, t.details.get("isolation", "")] for t in report.tests}})
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main()
