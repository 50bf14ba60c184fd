"""Packaging for grading platforms (Gradescope)."""
