"""Readers turn user input (for now: LaTeX) into diffcheck's expression text."""
