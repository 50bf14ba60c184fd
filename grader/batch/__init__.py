"""Grading a whole class: inputs, execution, the results folder, LMS layouts."""
