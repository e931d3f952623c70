"""The finding codes: one registry entry per code, the single source of their documentation.

Every place that describes a code (``--explain``, ``--list-codes``, the README table, SARIF
``rules[]``) reads it from :data:`RULES`; nothing else writes this text.

>>> RULES["DC101"].kind
'kink'
>>> rule_for("jump", "floor").code
'DC202'
>>> RULES["DC101"].format(cause="abs(y - f)", where="f - y = 0")
'abs(y - f) has a kink where f - y = 0'
>>> [r.code for r in RULES.values() if r.kind == "pole"]
['DC302']
"""

from __future__ import annotations

from dataclasses import dataclass

#: kind -> severity, as in CONTRACT.md section 2.
SEVERITY = {
    "kink": "error",
    "jump": "error",
    "infinite-slope": "error",
    "zero-gradient": "error",
    "pole": "warning",
    "domain": "warning",
    "input": "error",
    # autodiff findings: error for nan/inf/overflow/underflow, warning for a wrong value
    # (each DC5xx rule says which)
    "autodiff": "error",
}

#: kinds that make an expression non-differentiable.
NON_DIFFERENTIABLE_KINDS = frozenset({"kink", "jump", "infinite-slope"})


@dataclass(frozen=True)
class Rule:
    """One finding code and its documentation, in ruff's shape."""

    code: str
    kind: str
    title: str
    what: str
    why: str
    example: str
    instead: str
    #: The finding's message, a template with named arguments (pyflakes' message classes):
    #: ``cause`` (the primitive as written), ``where`` (its set), ``loss`` (the whole input)
    #: and the code's own (``variable``, ``region``, ``requirement``).
    message: str = ""
    #: the severity, when it is not the kind's (autodiff: wrong values are warnings)
    level: str | None = None

    def format(self, **arguments: object) -> str:
        """The message of one finding of this code."""
        return self.message.format(**arguments)

    @property
    def severity(self) -> str:
        return self.level or SEVERITY[self.kind]

    def explain(self) -> str:
        """Plain-text documentation, as ``diffcheck --explain CODE`` prints it."""
        return (
            f"{self.code} ({self.kind}, {self.severity}): {self.title}\n\n"
            f"What it does\n  {self.what}\n\n"
            f"Why is this bad?\n  {self.why}\n\n"
            f"Example\n  {self.example}\n\n"
            f"Use instead\n  {self.instead}\n"
        )


_RULE_LIST = [
    Rule(
        "DC001", "input", "Input could not be parsed",
        "The text is not an expression in diffcheck's input language: a syntax error, an "
        "unknown function, or a construct outside the whitelist (attributes, subscripts, "
        "lambdas, strings, statements).",
        "Nothing can be said about a loss that cannot be read; diffcheck never evaluates "
        "text it does not understand.",
        "sigmod(y*f)   # unknown function",
        "sigmoid(y*f)  # the names are listed under 'Input language' in the README",
    ),
    Rule(
        "DC002", "input", "Analysis limit or time limit reached",
        "The expression is too large, a constant too big, or the analysis ran past the "
        "per-expression time limit (--timeout).",
        "An unbounded computation would stall a CI job; diffcheck stops and says so instead "
        "of guessing.",
        "2**2**2**2**2**2",
        "Write the loss with symbolic exponents or raise --timeout.",
    ),
    Rule(
        "DC003", "input", "Analysis not supported",
        "The analysis could not decide differentiability for this expression.",
        "A verdict diffcheck cannot back up would be a guess; the result says 'unknown' "
        "(differentiable: null) rather than 'smooth'.",
        "an expression whose singular set cannot be solved for any variable",
        "Simplify the expression or check the reported candidates by hand.",
    ),
    Rule(
        "DC101", "kink", "Kink of an absolute value",
        "abs(u) has two different one-sided slopes, -1 and +1, where u = 0.",
        "The gradient flips sign at the minimum, so gradient descent oscillates around it and "
        "never settles; autodiff returns the convention abs'(0) = 0, hiding the problem.",
        "abs(y - f)",
        "Huber loss, or pseudo-Huber sqrt(u**2 + d**2) - d (smooth, error at most d).",
        message='{cause} has a kink where {where}',
    ),
    Rule(
        "DC102", "kink", "Kink of max, min, relu or clip",
        "max(a, b) (and min, relu, hinge, clip) switches between two branches with different "
        "slopes where a = b.",
        "The slope changes abruptly where the branches meet; second-order optimizers and "
        "step-size rules that assume smoothness misbehave, and ties get an arbitrary subgradient.",
        "max(0, 1 - y*f)   # hinge",
        "softplus: tau*log(1 + exp(u/tau)) for max(0, u); tau*logsumexp(a/tau) for max(a1..an).",
        message='{cause} has a kink where {where}',
    ),
    Rule(
        "DC103", "kink", "Kink where Piecewise or where() branches meet",
        "The branches of where(...)/Piecewise(...) agree in value at the boundary but not in "
        "slope.",
        "The gradient jumps when the condition flips, exactly like a hand-written abs or max.",
        "where(u < 0, -u, 2*u)",
        "Match the derivatives at the boundary (as Huber does) or blend the branches with "
        "sigmoid(g/tau).",
        message='{cause} has a kink where {where}',
    ),
    Rule(
        "DC104", "kink", "Kink of a root or power at zero",
        "A power or root of an expression that reaches 0 (for example sqrt(x**2 + y**2), the "
        "Euclidean norm) has a cone-shaped point where its one-sided slopes differ.",
        "The gradient is undefined at the tip of the cone; autodiff returns NaN or an arbitrary "
        "value there.",
        "sqrt(x**2 + y**2)",
        "sqrt(x**2 + y**2 + eps**2) - eps (smooth, error at most eps).",
        message='{cause} has a kink where {where}',
    ),
    Rule(
        "DC105", "kink", "Kink of a product with a step",
        "A step, sign, indicator or staircase (floor, round) multiplies a factor that vanishes "
        "where it jumps: the jump is cancelled, the slope still changes there (sign(u)*u is "
        "|u|, heaviside(u)*u is relu(u)).",
        "The gradient jumps where the step switches, as for a hand-written abs or relu: "
        "steps that assume a smooth loss misbehave there, and autodiff returns whatever value "
        "the step takes at the switch.",
        "heaviside(u)*u",
        "Write the intended function directly (abs, relu) and smooth it, or blend with "
        "sigmoid(u/tau) in place of the step.",
        message="{loss} has a kink where {where}: {cause} jumps there, times a factor that "
                "vanishes",
    ),
    Rule(
        "DC201", "jump", "Jump of a step, sign or indicator",
        "heaviside, step, sign or a comparison used as a value changes its value abruptly "
        "where its argument crosses 0.",
        "The loss is discontinuous: its gradient is zero almost everywhere and undefined at the "
        "jump, so gradient training gets no signal.",
        "(y*f <= 0)   # 0-1 loss",
        "sigmoid(u/tau) for a step, tanh(u/tau) for sign; or a surrogate loss such as the "
        "logistic loss.",
        message='{cause} has a jump where {where}',
    ),
    Rule(
        "DC202", "jump", "Jump of floor, ceil, round or %",
        "floor, ceil, round and % are piecewise constant (or piecewise linear) with jumps at "
        "integers.",
        "The gradient is zero almost everywhere and undefined at the jumps: a quantized value "
        "passes no gradient.",
        "(t - round(s))**2",
        "Straight-through estimator for training (round in the forward pass, identity in the "
        "backward pass) or a smooth staircase.",
        message='{cause} has a jump where {where}',
    ),
    Rule(
        "DC203", "jump", "Jump where Piecewise or where() branches meet",
        "The branches of where(...)/Piecewise(...) take different values at the boundary.",
        "The loss is discontinuous at the boundary: gradient steps near it can increase the loss "
        "by the size of the jump.",
        "where(f < 1, f, f + 2)",
        "Make the branches agree at the boundary, or blend them with sigmoid(g/tau).",
        message='{cause} has a jump where {where}',
    ),
    Rule(
        "DC204", "jump", "Jump where a continuous primitive switches",
        "abs, max, min or a root switches branch where the loss divides by it or otherwise "
        "makes its branches take different values (x/abs(x) is a sign written by hand).",
        "The loss is discontinuous there: gradient steps near the set can change the loss by "
        "the size of the jump, and the gradient says nothing about it.",
        "where(x == 0, 0, x/abs(x))",
        "Use sign or heaviside explicitly and replace them by tanh(u/tau) or sigmoid(u/tau).",
        message="{loss} has a jump where {where}, where {cause} switches branch",
    ),
    Rule(
        "DC301", "infinite-slope", "Infinite slope",
        "A root (sqrt(u), u**(1/3), u**0.5) of an expression that reaches 0 has an infinite "
        "one-sided derivative there.",
        "Gradients explode near the point and are inf or NaN at it, which poisons an entire "
        "batch's update.",
        "sqrt(1 - f)",
        "sqrt(u + eps) (error at most sqrt(eps)), or square the quantity instead of rooting it.",
        message='{cause} has an infinite slope where {where}',
    ),
    Rule(
        "DC302", "pole", "Pole",
        "The value is unbounded near a point outside the domain, such as 1/u or log(u) at u = 0.",
        "The loss and its gradient blow up near the pole; training diverges if it gets close.",
        "1/(x - 2)",
        "Keep the argument away from the pole: log(u + eps), 1/(u + eps) with u >= 0, or clamp.",
        message='{cause} is unbounded near {where}',
    ),
    Rule(
        "DC303", "domain", "Restricted domain",
        "The expression is undefined on part of the real space, for example log(p) needs p > 0 "
        "and sqrt(u) needs u >= 0.",
        "An input outside the domain gives NaN, which propagates through the whole update.",
        "log(1 - p)",
        "Make sure the argument stays in the domain (for example p = sigmoid(z)), or use "
        "log1p/logsumexp forms.",
        message='{cause} is undefined where {region}{requirement}',
    ),
    Rule(
        "DC401", "zero-gradient", "Zero gradient almost everywhere",
        "The derivative with respect to a variable is zero almost everywhere, although the value "
        "depends on it.",
        "Gradient descent gets no signal from this variable: its parameters never move.",
        "floor(4*u)/4",
        "Straight-through estimator, or a smooth surrogate (sigmoid for steps).",
        message="the derivative of {loss} with respect to {variable} is zero almost everywhere "
                "({cause} is piecewise constant): gradient descent gets no signal",
    ),
    Rule(
        "DC402", "zero-gradient", "Gradient cut",
        "A parameter the gradient should train receives none: every path from it to the output "
        "goes through .detach(), torch.no_grad(), stop_gradient, an integer cast or an argmax "
        "index, or the forward pass never uses it.",
        "The parameter never moves during training, silently; distributed training reports it "
        "only as 'parameters that did not receive grad'.",
        "self.head(self.body(x).detach())",
        "Remove the detach (or no_grad) if the parameter should learn; for a rounding or an "
        "argmax use a straight-through estimator x + (q - x).detach() or Gumbel-softmax.",
        message="no gradient reaches {parameters}: {cause}",
    ),
]


_AUTODIFF_WHY = ("One NaN in one component makes the whole update NaN: the weights are "
                 "overwritten and training diverges, long after the batch that caused it.")

_RULE_LIST += [
    Rule(
        "DC501", "autodiff", "NaN gradient from the branch a where() does not select",
        "where(c, a, b) is differentiated through both branches: the unselected one gets a zero "
        "cotangent, and where its own derivative is inf or NaN (sqrt or log at or below 0, a "
        "division by 0), 0 * inf = NaN reaches the gradient.",
        _AUTODIFF_WHY,
        "where(x > 0, sqrt(x), 0)",
        "double where: where(x > 0, sqrt(where(x > 0, x, 1)), 0)",
        message="{frameworks_return} {value} for d/d{variable} of {input} where {where}: the "
                "unselected branch {culprit} is still differentiated (true value {true})",
    ),
    Rule(
        "DC502", "autodiff", "NaN or inf gradient at a root, norm or division by zero",
        "The backward formula of an operation is infinite at a point (sqrt'(0) = inf, the "
        "norm at the zero vector, 1/x at 0) and meets a zero factor or an opposite infinity "
        "on the way back: NaN, even where the loss itself is finite.",
        _AUTODIFF_WHY,
        "sqrt(x**2 + y**2)",
        "eps inside the root: sqrt(x**2 + y**2 + 1e-12), or torch.linalg.vector_norm",
        message="{frameworks_return} {value} for d/d{variable} of {input} where {where} "
                "({culprit}; true value {true})",
    ),
    Rule(
        "DC503", "autodiff", "Wrong finite gradient",
        "Autodiff returns a finite value that is not the derivative: kinks that cancel "
        "(relu(x) - relu(-x) is x, but autodiff adds relu'(0) = 0 twice), a library shortcut "
        "(F.softplus's threshold).",
        "Training moves in a wrong direction at those points, silently.",
        "relu(x) - relu(-x)",
        "write the function without the cancelling pieces (x)",
        message="{frameworks_return} {value} for d/d{variable} of {input} where {where}; the "
                "derivative is {true} ({culprit})",
        level="warning",
    ),
    Rule(
        "DC504", "autodiff", "Overflow in the chosen dtype",
        "An intermediate value exceeds the largest number of the dtype (exp(x) past x = 88.72 "
        "in float32, 709.78 in float64) and the backward pass turns inf into NaN, although "
        "the loss and its derivative are moderate numbers.",
        _AUTODIFF_WHY,
        "log(1 + exp(x))",
        "softplus(x), logsumexp, log_softmax: compute in log space",
        message="{frameworks_return} {value} for d/d{variable} of {input} in {dtype} where "
                "{where}: {culprit} overflows (true value {true})",
    ),
    Rule(
        "DC505", "autodiff", "Underflow or rounding to zero in the chosen dtype",
        "An intermediate value rounds to 0 in the dtype (sigmoid(x) below x = -88.7 in "
        "float32, 1 - sigmoid(x) past x = 16.6) and a log or a division of it makes the "
        "gradient NaN or inf, although the true derivative is moderate.",
        _AUTODIFF_WHY,
        "log(sigmoid(x))",
        "logsigmoid(x) (F.logsigmoid, jax.nn.log_sigmoid); log_softmax; xlogy",
        message="{frameworks_return} {value} for d/d{variable} of {input} in {dtype} where "
                "{where}: {culprit} rounds to 0 (true value {true})",
    ),
]

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULE_LIST}

#: kinds whose code does not depend on the primitive that causes them
_CODE_BY_KIND = {"pole": "DC302", "domain": "DC303", "zero-gradient": "DC401"}


def rule_for(kind: str, family: str | None = None) -> Rule:
    """The rule for a finding of ``kind`` caused by a primitive of ``family``.

    The (kind, family) codes are listed explicitly in the primitive registry
    (:data:`diffcheck.primitives.switching.FAMILIES`); a pair not listed raises KeyError.
    """
    if family is None:
        return RULES[_CODE_BY_KIND[kind]]
    from diffcheck.primitives.switching import code_for  # the registry imports SymPy: lazily

    return RULES[code_for(kind, family)]


#: error kind (CONTRACT.md section 5) -> code
ERROR_CODES = {"parse": "DC001", "limit": "DC002", "timeout": "DC002", "unsupported": "DC003"}


def markdown_table() -> str:
    """The README's table of codes, generated from the registry (a test keeps them in sync)."""
    rows = ["| code | kind | severity | what it means | use instead |", "|---|---|---|---|---|"]
    for rule in RULES.values():
        rows.append(f"| {rule.code} | {rule.kind} | {rule.severity} | {rule.title}: {rule.what} "
                    f"| {rule.instead} |")
    return "\n".join(rows)
