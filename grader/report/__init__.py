"""Reports: text for the terminal, JSON/Gradescope for machines, HTML for students, CSV for instructors."""
