"""The timing benchmark: the race, its verified outputs, the exclusive lock."""
