"""`python -m grader`: the same as the `grade` command (for environments without its script on PATH)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
