"""Synthetic people and scenes for tests, demos and evaluations: stick figures, crowds, depth images."""
