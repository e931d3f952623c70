"""Readers: each turns one kind of input into what the analysis reads (SymPy plus source spans)."""
