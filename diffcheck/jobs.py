"""What a worker of the command line runs: one job (a line of text, a loss or model of a
``.py`` file, a model composed with a loss) to its report.

Apart from :mod:`diffcheck.cli` because jobs are pickled to the workers by reference to this
module: a worker started before the command line imported typer must not import it to
unpickle its work. Nothing here imports SymPy until a job runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def is_python(job) -> bool:
    """Whether a job is a function or model of a ``.py`` file rather than a line of text.

    Asked without importing diffcheck.api (and SymPy with it): a one-expression run must not
    pay for that import in this process too.
    """
    from diffcheck.lossfile import LossLine
    from diffcheck.model import Report

    return not isinstance(job, (LossLine, Report))


@dataclass(frozen=True)
class Composition:
    """A model job to check composed with a loss (``--loss``)."""

    job: Any
    loss: str

    @property
    def target(self) -> str:
        return self.job.target

    @property
    def path(self) -> str:
        return self.job.path

    @property
    def line(self) -> int:
        return self.job.line


def check_job(job, wrt, options, ignored, pictures=None):
    """One job of a run (a line, a function or model of a ``.py`` file, a composition) to
    its report, without the ``ignored`` codes and with its pictures."""
    from diffcheck.api import (
        SourceJob,
        check_composition,
        check_line,
        check_source_job,
        plot_stage,
    )
    from diffcheck.model import Report

    if isinstance(job, Report):
        return job  # a file that could not be read: its error report
    if isinstance(job, (Composition, SourceJob)):
        # LaTeX is a way to write an expression: a Python file is read as Python
        python_options = {k: v for k, v in options.items() if k != "latex"}
        report = check_composition(job.job, job.loss, wrt, **python_options) \
            if isinstance(job, Composition) else check_source_job(job, wrt, **python_options)
    else:
        report = check_line(job, wrt, **options)
    if ignored:
        report.findings = [f for f in report.findings if f.code not in ignored]
    # after suppression, so that no picture is drawn of a finding nobody sees
    pictures = pictures or {}
    return plot_stage(report, pictures.get("plot_dir"),
                      name=(pictures.get("names") or {}).get(job),
                      sparklines=bool(pictures.get("sparklines")))
