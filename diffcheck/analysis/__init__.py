"""The analysis: candidate sets, one-sided comparison of branches, masking, smoothness class.

Every primitive with a boundary (abs, max/min, sign, Heaviside, floor, Piecewise conditions,
fractional powers at 0, acos at +-1) splits space by a set ``g = 0``. Near a point of that
set the loss is *localized* on each side: every switching primitive is replaced by the branch
that is active there, giving two smooth expressions. Their expansions along the line through
the point decide everything at once, exactly:

* values differ: a jump;
* first derivatives differ: a kink (or unbounded: an infinite slope);
* the k-th derivatives differ first, or a term ``|t|**a`` with a non-integer ``a`` appears:
  the loss is C^(k-1) (C^floor(a)) there;
* never: no finding (cancellation, ``abs(u)**4``; masking, ``relu(abs(u) - 1)`` at 0).

Modules, in the order the analysis uses them: :mod:`.candidates` (sets and the points that
decide them), :mod:`.localize` (active branches), :mod:`.series` (one-sided expansions),
:mod:`.sides` (the comparison), :mod:`.masking` (the part of a set that is active),
:mod:`.domain` (domain, pole and zero-gradient findings), :mod:`.verdict` (putting it together).

>>> from diffcheck.parser import parse
>>> analyze(parse("relu(x**3)"), ["x"]).smoothness
'C2'
"""

from diffcheck.analysis.verdict import Analysis, AnalysisLimit, NonSmooth, analyze

__all__ = ["Analysis", "AnalysisLimit", "NonSmooth", "analyze"]
