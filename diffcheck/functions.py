"""Former home of the vocabulary, kept as an alias: the registry is :mod:`diffcheck.primitives`.

``VOCABULARY[name]`` is ``diffcheck.primitives.lookup(name)``; the guarded SymPy constructors
live in :mod:`diffcheck.primitives.guards`.

>>> VOCABULARY["relu"] is lookup("relu")
True
"""

from __future__ import annotations

from diffcheck.primitives import (
    CONSTANTS,
    FUNCTIONS,
    KNOWN_FUNCTIONS,
    MODULE_CONSTANTS,
    NON_FINITE_NAMES,
    Function,
    lookup,
)
from diffcheck.primitives.guards import (
    MAX_CONDITION_CASES,
    MAX_CONDITION_COMPARISONS,
    MAX_EXTREMUM_ARGS,
    MAX_NUMBER_DIGITS,
    MAX_ROOT_DIGITS,
    ArgumentError,
    LimitExceeded,
    LoweringError,
    add,
    cases_of,
    check_comparison_count,
    check_condition,
    exact_decimal,
    exponential,
    floor_divide,
    maximum,
    minimum,
    modulo,
    mul,
    number_digits,
    piecewise,
    power,
)

#: name -> entry (aliases included): the registry's table under its former name
VOCABULARY = FUNCTIONS
#: the former name of a registry entry
FunctionSpec = Function

__all__ = [
    "CONSTANTS",
    "KNOWN_FUNCTIONS",
    "MAX_CONDITION_CASES",
    "MAX_CONDITION_COMPARISONS",
    "MAX_EXTREMUM_ARGS",
    "MAX_NUMBER_DIGITS",
    "MAX_ROOT_DIGITS",
    "MODULE_CONSTANTS",
    "NON_FINITE_NAMES",
    "VOCABULARY",
    "ArgumentError",
    "FunctionSpec",
    "LimitExceeded",
    "LoweringError",
    "add",
    "cases_of",
    "check_comparison_count",
    "check_condition",
    "exact_decimal",
    "exponential",
    "floor_divide",
    "lookup",
    "maximum",
    "minimum",
    "modulo",
    "mul",
    "number_digits",
    "piecewise",
    "power",
]
