"""The shape of a registry entry, and the table every reader looks names up in.

A :class:`Function` is one function of the input language as users call it (``relu``,
``F.hardtanh``, ``jnp.clip``): how a call is checked (arity, keywords as PyTorch, JAX and
NumPy spell them), how it is lowered to SymPy (``build``), and what the README says about it
(meaning, smoothness class, what autodiff frameworks return at its non-smooth points).

Entries are declared with :func:`register` in the theme modules of this package
(``elementary``, ``activations``, ``switches``); adding a function is adding one entry there,
plus its tests.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Module prefixes of a dotted function name, longest first so that the longest one matches:
#: ``torch.nn.functional.relu`` is ``relu``, ``scipy.special.erf`` is ``erf``.
MODULE_PREFIXES: tuple[str, ...] = tuple(sorted((
    "torch.nn.functional.",
    "jax.scipy.special.",
    "scipy.special.",
    "torch.special.",
    "jax.numpy.",
    "jax.lax.",
    "jax.nn.",
    "numpy.",
    "torch.",
    "math.",
    "jnp.",
    "lax.",
    "np.",
    "F.",
), key=len, reverse=True))


@dataclass(frozen=True)
class Function:
    """One function of the input language: how a call is checked, lowered and documented."""

    #: the name the README lists it under; ``aliases`` are other spellings of the same entry
    name: str
    #: ``build(*args, **kwargs) -> SymPy``, guarded against blow-ups (diffcheck.primitives.guards)
    build: Callable[..., Any]
    min_args: int = 1
    #: ``None``: any number of arguments (max, min, logsumexp, Piecewise).
    max_args: int | None = 1
    #: Keyword as written -> the builder parameter it sets (torch's ``min_val`` sets ``lo``).
    keywords: Mapping[str, str] = field(default_factory=dict)
    #: Keywords accepted for compatibility and ignored (``inplace=``, ``axis=`` of a mean).
    ignored_keywords: frozenset[str] = frozenset()
    #: Keyword -> the literal values it accepts (strings or booleans), passed to the builder
    #: as Python values: ``F.gelu(x, approximate='tanh')``, ``jax.nn.gelu(x, approximate=False)``.
    options: Mapping[str, frozenset[Any]] = field(default_factory=dict)
    #: Positions that hold a condition rather than a value (``where``'s first argument).
    condition_args: frozenset[int] = frozenset()
    #: Every argument is a ``(value, condition)`` tuple (``Piecewise``).
    pair_args: bool = False
    #: ``None`` may stand for a bound that does not apply (clip's bounds).
    accepts_none: bool = False
    aliases: tuple[str, ...] = ()
    #: One line for users: the definition, with defaults (the README table's "meaning").
    doc: str = ""
    #: The smoothness class in words, for the README table: ``"Cinf"``, ``"C0: kinks at x = 0"``.
    #: Tests check it against the analysis of ``sample`` (the leading class word).
    smoothness: str = ""
    #: A call in ``x`` whose analysis must give ``smoothness`` (default: ``name(x)``).
    sample: str = ""
    #: The class of ``sample`` when ``smoothness`` does not start with one ("as smooth as...").
    sample_class: str = ""
    #: What PyTorch and JAX return at its non-smooth points, or how their implementation
    #: differs from the mathematics diffcheck analyses (softplus's threshold).
    autodiff: str = ""

    def parameters(self) -> tuple[str, ...]:
        """The builder's positional parameter names, in order: which keyword a position fills.

        A ``*args`` builder (max, softmax) has none: its keywords (``index``) are keyword-only.
        """
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return tuple(name for name, parameter in inspect.signature(self.build).parameters.items()
                     if parameter.kind in positional)

    def arity(self) -> str:
        """How many positional arguments, in words: ``'1 or 2 arguments'``."""
        low, high = self.min_args, self.max_args
        if high is None:
            return f"at least {low} argument{'s' * (low != 1)}"
        if low == high:
            return f"{low} argument{'s' * (low != 1)}"
        return f"{low} {'or' if high == low + 1 else 'to'} {high} arguments"

    @property
    def class_word(self) -> str:
        """The class of ``sample``: ``'C0'`` for ``'C0: kinks at x = 0'``."""
        return self.sample_class or self.smoothness.split(":")[0].split()[0]

    @property
    def sample_call(self) -> str:
        return self.sample or f"{self.name}(x)"


#: name -> entry, every alias included. Filled by :func:`register`.
FUNCTIONS: dict[str, Function] = {}
#: The entries in the order they were registered, one per function (aliases not repeated).
ENTRIES: list[Function] = []


def register(entry: Function) -> Function:
    """Add ``entry`` under its name and aliases; a name registered twice is a bug."""
    for name in (entry.name, *entry.aliases):
        if name in FUNCTIONS:
            raise ValueError(f"{name} is registered twice")
        FUNCTIONS[name] = entry
    ENTRIES.append(entry)
    return entry


def function(
    build: Callable[..., Any],
    *,
    min_args: int = 1,
    max_args: int | None = 1,
    keywords: Mapping[str, str] | None = None,
    smoothness: str,
    aliases: str = "",
    **options: Any,
) -> Function:
    """Register the function ``build`` builds, named after it (``_hardtanh`` -> hardtanh).

    The first line of the builder's docstring is the entry's ``doc``.
    """
    doc = (build.__doc__ or "").strip().splitlines()[0]
    name = options.pop("name", build.__name__.lstrip("_"))
    entry = Function(name, build, min_args, max_args, dict(keywords or {}), doc=doc,
                     smoothness=smoothness, aliases=tuple(aliases.split()), **options)
    return register(entry)


def lookup(name: str) -> Function | None:
    """The entry of a function name without its module prefix (``"softplus"``), or None.

    >>> lookup("hardtanh").keywords["min_val"]
    'lo'
    >>> lookup("sigmod") is None
    True
    """
    return FUNCTIONS.get(name)


def split_prefix(dotted: str) -> tuple[str, str] | None:
    """``("np.", "exp")`` for ``"np.exp"``: a dotted name with a known module prefix, or None.

    >>> split_prefix("torch.nn.functional.relu"), split_prefix("os.system")
    (('torch.nn.functional.', 'relu'), None)
    """
    for prefix in MODULE_PREFIXES:
        member = dotted[len(prefix):]
        if dotted.startswith(prefix) and member.isidentifier():
            return prefix, member
    return None
