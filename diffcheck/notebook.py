"""How a :class:`~diffcheck.model.Report` shows itself in Jupyter.

``check("abs(y - f)")`` as the last line of a cell shows the text report with its colours
and, when matplotlib is installed, the picture of each finding and the map of the loss,
drawn in memory (a report that came from a worker process shows the files ``--plot`` wrote).
IPython calls :meth:`Report._ipython_display_`, which calls :func:`display_report`; nothing
here is imported outside a notebook.
"""

from __future__ import annotations

from typing import Any


def display_report(report: Any) -> None:
    """Show ``report`` with IPython's ``display``: text, then its pictures."""
    from IPython.display import Image, display

    from diffcheck.plots import report_images
    from diffcheck.report.text import render, render_html

    result = report.to_dict()
    display({"text/plain": render([result]), "text/html": render_html([result])}, raw=True)
    for _caption, png in report_images(report):
        display(Image(data=png, format="png"))
