"""The ``diffcheck`` command's entry point: start the first worker, then read the options.

Kept apart from :mod:`diffcheck.cli` so that nothing heavy is imported before the fork: the
worker starts within milliseconds of the interpreter and imports SymPy, NumPy and the
pipeline while this process imports typer and rich, reads the options and the inputs. A
one-expression run then waits for the longer of the two paths, not for their sum.
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point."""
    from diffcheck.runner import prestart

    prestart(warm_up)
    from diffcheck.cli import app

    app()


def warm_up() -> None:
    """Runs in the worker started ahead: :func:`diffcheck.api.warm_up`."""
    from diffcheck.api import warm_up as import_pipeline

    import_pipeline()
