"""Smooth surrogates for non-smooth primitives, and for a whole loss, with proven error bounds.

The modules, along the way a surrogate is made: :mod:`.recognition` (which family a node
belongs to), :mod:`.table` (the replacements of each family and their bounds),
:mod:`.planning` (which node gets which entry and parameter), :mod:`.proof` (the bound on
|loss - surrogate|, bottom-up, with :mod:`.exact` arithmetic), :mod:`.build` (the public
functions), :mod:`.verify` (the numeric check before printing), :mod:`.printers` (NumPy and
PyTorch code).

>>> import sympy as sp
>>> u = sp.Symbol("u", real=True)
>>> [r["name"] for r in surrogates_for(sp.Abs(u))]
['pseudo_huber', 'log_cosh', 'huber']
"""

from diffcheck.surrogates.build import SmoothLoss, build_smooth_loss, smooth_loss, surrogates_for
from diffcheck.surrogates.printers import numpy_code, standard_form, torch_code
from diffcheck.surrogates.recognition import Primitive, recognize
from diffcheck.surrogates.table import SURROGATES, SurrogateEntry
from diffcheck.surrogates.verify import checked_smooth_loss, checked_surrogate, verify_surrogate

__all__ = [
    "SURROGATES",
    "Primitive",
    "SmoothLoss",
    "SurrogateEntry",
    "build_smooth_loss",
    "checked_smooth_loss",
    "checked_surrogate",
    "numpy_code",
    "recognize",
    "smooth_loss",
    "standard_form",
    "surrogates_for",
    "torch_code",
    "verify_surrogate",
]
