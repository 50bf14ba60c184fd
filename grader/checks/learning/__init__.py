"""The network-learns check: data, plan, screen, the student's run."""
