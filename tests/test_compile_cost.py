"""What compiling an expression costs a worker (issue 14): imports, and memory per function."""

from __future__ import annotations

import subprocess
import sys

import sympy as sp

from diffcheck import numeric
from diffcheck.numeric import compile_expr, compile_float, compile_numpy

#: NumPy's submodules it imports only when asked for; lambdify's ``from numpy import *`` asked
LAZY_NUMPY = ("numpy.testing", "numpy.f2py", "numpy.fft", "numpy.random", "numpy.ma",
              "numpy.polynomial")


def test_warm_up_leaves_numpy_lazy_submodules_unloaded():
    # a fresh process: this one's tests may have imported them on their own
    code = ("import sys\nfrom diffcheck.api import warm_up\nwarm_up()\n"
            f"print(*sorted(m for m in {LAZY_NUMPY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == []


def test_numpy_compiles_use_the_prepared_namespace():
    x = sp.Symbol("x", real=True)
    fn = compile_numpy(sp.exp(x) + sp.Heaviside(x), [x])
    assert fn.__globals__["exp"] is numeric._NAMESPACES["numpy"]["exp"]
    assert "fft" not in fn.__globals__
    assert fn(0.0) == 1.5


def test_functions_of_one_printer_share_their_globals():
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    expressions = [sp.Abs(x - y) * k + sp.log(1 + sp.exp(x)) for k in range(2, 6)]
    for compile_ in (compile_expr, compile_numpy, compile_float):
        compiled = [compile_(e, [x, y]) for e in expressions]
        assert len({id(fn.__globals__) for fn in compiled}) == 1, compile_.__name__
        # sharing changed nothing a function reads: each still computes its own expression
        values = [float(fn(1.0, 3.0)) for fn in compiled]
        expected = [float(e.subs({x: 1.0, y: 3.0})) for e in expressions]
        assert all(abs(v - w) <= 1e-12 * abs(w) for v, w in zip(values, expected))


def test_a_name_bound_elsewhere_keeps_a_function_on_its_own_globals():
    x = sp.Symbol("x", real=True)
    shared = {"sin": object()}  # not the sin the function was compiled against
    fn = numeric._with_shared_globals(compile_expr(sp.sin(x) + 7, [x]), shared)
    assert fn.__globals__ is not shared
    assert abs(float(fn(0)) - 7) < 1e-30


def test_compiled_functions_carry_no_printed_expression():
    x = sp.Symbol("x", real=True)
    fn = compile_expr(sp.sqrt(x) * 3 + 11, [x])
    assert "sqrt" not in (fn.__doc__ or "")
