"""Scan LaTeX mathematics into tokens for the grammar in :mod:`diffcheck.readers.latex`.

Every command is looked up in a table: a Greek letter is a ``NAME``, ``\\log`` a ``FUNC``,
``\\frac`` a ``FRAC``, ``\\left|`` an opening ``BAR``... A command that is not in a table is
an error at its column, never skipped. Spacing and sizing commands (``\\,``, ``\\quad``,
``\\big``, ``\\displaystyle``) carry no meaning and are dropped; ``\\text{...}``,
``\\mathrm{...}`` and ``{\\rm ...}`` become names or keywords (``\\text{if}``).

Two readings that plain LaTeX leaves to the eye are settled here, by rules:

- ``|`` (and ``\\|``, ``||``) opens a bar when nothing before it could end an operand or no
  bar of its kind is open, and closes the innermost bar otherwise: ``|a| b |c|`` is
  ``abs(a)*b*abs(c)``.
- a run of letters: one letter is a name, two letters are two names (``yf`` is ``y f``), three
  or more are one name (``margin``, ``delta``) unless the run is a function (``log``) or a
  keyword (``if``, ``otherwise``).

>>> [t.kind for t in scan(r"\\left| y - \\hat{y} \\right|")]
['BAR_OPEN', 'NAME', 'SUB', 'ACCENT', 'LGROUP', 'NAME', 'RGROUP', 'BAR_CLOSE']
>>> " ".join(t.kind for t in scan(r"|a| b |c|"))
'BAR_OPEN NAME BAR_CLOSE NAME BAR_OPEN NAME BAR_CLOSE'
>>> [(t.kind, t.value, t.style) for t in scan(r"\\text{margin} yf")]
[('NAME', 'margin', 'text'), ('NAME', 'y', 'letter'), ('NAME', 'f', 'pair')]
>>> scan(r"\\foo x")
Traceback (most recent call last):
    ...
diffcheck.parser.ParseError: unknown LaTeX command \\foo
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from diffcheck.parser import MAX_INPUT_CHARS, ParseError

#: Deepest nesting of brackets, groups and styles read. Each level costs the recursive reader
#: a dozen stack frames, so this stays well below the text parser's MAX_NESTING; real loss
#: formulas nest a handful of levels deep.
MAX_NESTING = 40

__all__ = ["FUNCTION_WORDS", "GREEK", "Tok", "looks_like_latex", "resolve_delimiters", "scan"]


@dataclass(frozen=True)
class Tok:
    """One token: its grammar terminal (``kind``), its meaning (``value``) and where it starts.

    ``column`` is 1-based in the LaTeX input; ``spaced`` says whitespace (or a spacing
    command) comes right before it; ``style`` says how a ``NAME`` was written (``letter``,
    ``greek``, ``word`` for a bare run of letters, ``text`` for ``\\text{}``/``\\mathrm{}``,
    ``operator`` for ``\\operatorname{}``, ``bold`` for ``\\mathbf{}``/``\\vec{}``, ``pair``
    for the second of two capitals written together, as the E of ``CE``).
    """

    kind: str
    value: str
    column: int
    spaced: bool = False
    style: str = ""


#: Greek letters (and ``\\ell``): the command's name is the variable's name. The ``var``
#: forms are the same letter: ``\\varepsilon`` and ``\\epsilon`` are one variable.
GREEK = {
    name: name
    for name in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
                 "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi",
                 "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma",
                 "Upsilon", "Phi", "Psi", "Omega", "ell"]
} | {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varrho": "rho",
     "varsigma": "sigma", "varpi": "pi", "varkappa": "kappa"}

#: Function commands and the vocabulary function each one means.
FUNCTION_COMMANDS = {
    "log": "log", "ln": "log", "exp": "exp", "sin": "sin", "cos": "cos", "tan": "tan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arctan": "atan", "arcsin": "asin",
    "arccos": "acos", "max": "max",
    "min": "min", "sgn": "sign",
}

#: Words that name a vocabulary function when written as text (``\\text{max}``,
#: ``\\operatorname{sign}``, or bare: ``log(1 + exp(-z))``).
FUNCTION_WORDS = {
    **{name: name for name in ["log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "max",
                               "min", "sign", "abs", "sqrt", "relu", "sigmoid", "softplus",
                               "logsumexp", "clip", "clamp", "floor", "ceil", "round", "mean",
                               "sum", "erf", "erfc"]},
    "ln": "log", "sgn": "sign", "arctan": "atan", "atan": "atan", "ReLU": "relu",
    "Sigmoid": "sigmoid", "Softplus": "softplus", "LogSumExp": "logsumexp", "Tanh": "tanh",
}

#: Words that are part of the prose of a formula: piecewise conditions and connectives.
KEYWORDS = {
    "if": "KW_IF", "for": "KW_IF", "when": "KW_IF", "otherwise": "KW_OTHERWISE",
    "else": "KW_OTHERWISE", "and": "KW_AND", "or": "KW_OR", "not": "KW_NOT",
    "where": "KW_WHERE", "with": "KW_WHERE",
}

#: Commands that only change spacing, size or style of what follows: they are dropped.
_SPACING = frozenset(
    ["quad", "qquad", "enspace", "enskip", "thinspace", "medspace", "thickspace", "negthinspace",
     "negmedspace", "negthickspace", "displaystyle", "textstyle", "scriptstyle",
     "scriptscriptstyle", "limits", "nolimits", "nonumber", "notag", "hfill", "allowbreak",
     "nobreak", "tiny", "scriptsize", "footnotesize", "small", "normalsize", "large", "Large",
     "LARGE", "huge", "Huge"]
)
_SPACING_SYMBOLS = frozenset(",;:!> ")

#: Sizing commands that come before a delimiter; ``l``/``r`` variants force its direction.
_SIZING = {
    "big": None, "Big": None, "bigg": None, "Bigg": None,
    "bigl": "open", "Bigl": "open", "biggl": "open", "Biggl": "open",
    "bigr": "close", "Bigr": "close", "biggr": "close", "Biggr": "close",
    "bigm": None, "Bigm": None, "left": "open", "right": "close",
}

#: Delimiters: how each one is written -> (family, direction or None when the bar is ambiguous).
_DELIMITERS = {
    "(": ("PAREN", "open"), ")": ("PAREN", "close"),
    "[": ("BRACK", "open"), "]": ("BRACK", "close"),
    r"\{": ("SET", "open"), r"\}": ("SET", "close"),
    r"\lbrace": ("SET", "open"), r"\rbrace": ("SET", "close"),
    r"\lbrack": ("BRACK", "open"), r"\rbrack": ("BRACK", "close"),
    "|": ("BAR", None), r"\vert": ("BAR", None), r"\lvert": ("BAR", "open"),
    r"\rvert": ("BAR", "close"),
    r"\|": ("NORM", None), r"\Vert": ("NORM", None), r"\lVert": ("NORM", "open"),
    r"\rVert": ("NORM", "close"), "\u2016": ("NORM", None),
    r"\lfloor": ("FLOOR", "open"), r"\rfloor": ("FLOOR", "close"),
    r"\lceil": ("CEIL", "open"), r"\rceil": ("CEIL", "close"),
    r"\langle": ("ANGLE", "open"), r"\rangle": ("ANGLE", "close"),
    ".": ("DOT", None),
}

#: Grammar terminals of each bracket family.
_BRACKET_TOKENS = {
    "PAREN": ("LPAREN", "RPAREN"), "BRACK": ("LBRACK", "RBRACK"), "SET": ("LSET", "RSET"),
    "GROUP": ("LGROUP", "RGROUP"), "BAR": ("BAR_OPEN", "BAR_CLOSE"),
    "NORM": ("NORM_OPEN", "NORM_CLOSE"), "FLOOR": ("FLOOR_OPEN", "FLOOR_CLOSE"),
    "CEIL": ("CEIL_OPEN", "CEIL_CLOSE"), "ANGLE": ("ANGLE_OPEN", "ANGLE_CLOSE"),
    "CASES": ("BEGIN_CASES", "END_CASES"),
}
_CLOSER_FAMILY = {close: family for family, (_, close) in _BRACKET_TOKENS.items()}
_OPENER_FAMILY = {open_: family for family, (open_, _) in _BRACKET_TOKENS.items()}

#: Commands with a fixed token.
_SIMPLE_COMMANDS = {
    "cdot": ("CDOT", "*"), "times": ("CDOT", "*"), "ast": ("STAR", "*"), "div": ("SLASH", "/"),
    "le": ("REL", "<="), "leq": ("REL", "<="), "leqslant": ("REL", "<="),
    "ge": ("REL", ">="), "geq": ("REL", ">="), "geqslant": ("REL", ">="),
    "ne": ("REL", "!="), "neq": ("REL", "!="), "lt": ("REL", "<"), "gt": ("REL", ">"),
    "coloneqq": ("DEF", ":="), "triangleq": ("DEF", ":="), "equiv": ("DEF", ":="),
    "doteq": ("DEF", ":="), "eqqcolon": ("DEF", ":="),
    "land": ("KW_AND", "and"), "wedge": ("KW_AND", "and"), "lor": ("KW_OR", "or"),
    "vee": ("KW_OR", "or"), "lnot": ("KW_NOT", "not"), "neg": ("KW_NOT", "not"),
    "frac": ("FRAC", "frac"), "dfrac": ("FRAC", "frac"), "tfrac": ("FRAC", "frac"),
    "cfrac": ("FRAC", "frac"), "sqrt": ("SQRT", "sqrt"), "over": ("OVER", "over"),
    "sum": ("BIGOP", "sum"), "prod": ("BIGOP", "prod"),
    "dots": ("DOTS", "..."), "ldots": ("DOTS", "..."), "cdots": ("DOTS", "..."),
    "dotsc": ("DOTS", "..."), "dotsb": ("DOTS", "..."),
    "infty": ("INFTY", "inf"), "top": ("TOP", "T"), "intercal": ("TOP", "T"),
    "prime": ("PRIME", "'"), "pi": ("CONST", "pi"),
}

#: Accents: ``\\hat{y}`` is the variable ``y_hat``.
_ACCENTS = {
    "hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
    "widetilde": "tilde", "dot": "dot", "ddot": "ddot", "check": "check", "breve": "breve",
    "acute": "acute", "grave": "grave", "mathring": "ring",
}

#: Styles whose argument is read as mathematics: ``\\mathbf{x}`` is the variable ``x``.
_MATH_STYLES = {
    "mathbf": "bold", "boldsymbol": "bold", "bm": "bold", "pmb": "bold", "mathbfit": "bold",
    "vec": "bold", "mathcal": "", "mathscr": "", "mathfrak": "", "mathsf": "", "mathnormal": "",
    "mathbb": "", "mathds": "", "mathbbm": "", "underline": "", "boxed": "",
}
#: Styles whose argument is text: a name, a function, or a keyword.
_TEXT_STYLES = {
    "text": "text", "textrm": "text", "textit": "text", "textnormal": "text", "textsf": "text",
    "texttt": "text", "textbf": "text", "mbox": "text", "mathrm": "text", "mathit": "text",
    "mathtt": "text", "operatorname": "operator",
}
#: Old-style switches: ``{\\rm margin}`` is the name ``margin``.
_SWITCHES = frozenset(["rm", "bf", "it", "cal", "sf", "tt", "mit"])

#: Styles in which the digit 1 is the indicator function (``\\mathbb{1}[u < 0]``).
_INDICATOR_STYLES = frozenset(["mathbb", "mathds", "mathbbm", "mathbf", "bm", "boldsymbol", "pmb"])

#: Commands diffcheck knows but cannot read, and the message that says so.
_UNSUPPORTED = {
    "int": "integrals are not supported", "iint": "integrals are not supported",
    "oint": "integrals are not supported",
    "partial": "derivatives (\\partial) are not supported",
    "nabla": "gradients (\\nabla) are not supported",
}
for _name in ("in", "notin", "ni", "subset", "subseteq", "supset", "supseteq", "cap", "cup",
              "setminus", "emptyset", "forall", "exists", "mid", "bigcup", "bigcap"):
    _UNSUPPORTED[_name] = f"set notation (\\{_name}) is not supported"
for _name in ("lim", "limsup", "liminf", "sup", "inf", "arg", "argmin", "argmax", "det", "dim",
              "ker", "Pr", "gcd", "hom", "deg", "cot", "sec", "csc", "coth",
              "lg", "pm", "mp", "circ", "odot", "otimes", "oplus", "ominus", "oslash", "star",
              "bullet", "approx", "simeq", "cong", "propto", "sim", "to", "rightarrow",
              "leftarrow", "Rightarrow", "Leftarrow", "leftrightarrow", "mapsto", "implies",
              "iff", "vdots", "ddots", "binom", "choose", "underbrace", "overbrace", "underset",
              "overset", "stackrel", "color", "textcolor", "phantom", "hphantom", "vphantom",
              "overrightarrow", "overleftarrow", "ll", "gg", "perp", "parallel", "angle",
              "triangle", "square", "blacksquare", "Box", "cdotp", "colon", "hbar", "imath",
              "jmath", "aleph", "Re", "Im", "wp", "emph", "item", "hspace", "vspace", "mathop"):
    _UNSUPPORTED[_name] = f"\\{_name} is not supported"

#: Environments that only wrap the formula.
_WRAPPER_ENVIRONMENTS = frozenset(
    ["equation", "equation*", "displaymath", "math", "gather", "gather*", "multline", "multline*"]
)
#: Environments whose ``&`` only aligns and whose ``\\\\`` only breaks the line.
_ALIGN_ENVIRONMENTS = frozenset(["align", "align*", "aligned", "alignat", "alignat*", "split",
                                 "eqnarray", "eqnarray*", "flalign", "flalign*", "gathered"])
#: Environments of piecewise definitions.
_CASES_ENVIRONMENTS = frozenset(["cases", "cases*", "dcases", "dcases*", "rcases"])
#: Environments that are piecewise definitions inside ``\\left\\{ ... \\right.``.
_ARRAY_ENVIRONMENTS = frozenset(["array", "matrix", "smallmatrix"])

_UNICODE = {
    "\u2212": ("SUB", "-"), "\u2013": ("SUB", "-"), "\u00b7": ("CDOT", "*"),
    "\u22c5": ("CDOT", "*"), "\u00d7": ("CDOT", "*"), "\u2264": ("REL", "<="),
    "\u2265": ("REL", ">="), "\u2260": ("REL", "!="), "\u2211": ("BIGOP", "sum"),
    "\u220f": ("BIGOP", "prod"), "\u221e": ("INFTY", "inf"), "\u03c0": ("CONST", "pi"),
    "\u2113": ("NAME", "ell"), "\u2026": ("DOTS", "..."), "\u22ef": ("DOTS", "..."),
}
_UNICODE_GREEK = dict(zip(
    "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be"
    "\u03c1\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9\u03f5\u0394\u0393\u0398\u039b\u03a3"
    "\u03a6\u03a8\u03a9",
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
     "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
     "epsilon", "Delta", "Gamma", "Theta", "Lambda", "Sigma", "Phi", "Psi", "Omega"],
))
_UNICODE_SPACES = frozenset("\u00a0\u2002\u2003\u2009\u200a\u202f\u205f\u3000")

_SINGLE = {
    "+": ("ADD", "+"), "-": ("SUB", "-"), "*": ("STAR", "*"), "/": ("SLASH", "/"),
    "^": ("SUP", "^"), "_": ("SUBSCRIPT", "_"), ",": ("COMMA", ","), ";": ("SEMI", ";"),
    "&": ("AMP", "&"), "'": ("PRIME", "'"), "!": ("BANG", "!"), "=": ("REL", "=="),
    "<": ("REL", "<"), ">": ("REL", ">"), "{": ("LGROUP", "{"), "}": ("RGROUP", "}"),
}
_TWO_CHAR = {"<=": ("REL", "<="), ">=": ("REL", ">="), "!=": ("REL", "!="),
             "==": ("REL", "=="), ":=": ("DEF", ":=")}

_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+")
_LETTERS = re.compile(r"[A-Za-z]+")
_COMMAND = re.compile(r"\\([A-Za-z]+)\*?")
_DIMENSION = re.compile(r"\[\s*-?[\d.]+\s*(?:pt|ex|em|mm|cm|in|mu|bp)\s*\]")
#: A remark in parentheses inside \\text{}: words only, ``(Normal)``, ``(batch size)``.
_TEXT_REMARK = re.compile(r"(?:^|(?<=\s))\([A-Za-z][A-Za-z ,'-]*\)(?=\s|$)")
_TEXT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_']*|\d+(?:\.\d+)?")
_ENVIRONMENT = re.compile(r"\\(begin|end)\s*\{\s*([A-Za-z]+\*?)\s*\}")


def looks_like_latex(text: str) -> bool:
    """Input with a backslash command (``\\frac``, ``\\lvert``, ``\\{``) is LaTeX.

    >>> looks_like_latex(r"\\lvert y - f \\rvert"), looks_like_latex("abs(y - f)")
    (True, False)
    """
    return re.search(r"\\[A-Za-z{|]", text) is not None


def scan(text: str, resolve: bool = True) -> list[Tok]:
    """The tokens of ``text``, with bars resolved to opening and closing ones.

    Raises :class:`~diffcheck.parser.ParseError` (with the column) for a command or a
    character that is not understood, an unbalanced bracket, or input past the limits.
    ``resolve=False`` leaves bars ambiguous (``BAR_EITHER``) and brackets unchecked, for a
    caller that resolves each part of a formula on its own (:func:`resolve_delimiters`).
    """
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(f"input is too long ({len(text)} characters, limit {MAX_INPUT_CHARS})",
                         MAX_INPUT_CHARS + 1, "limit")
    tokens = _braced_script_fractions(_fractions_over(_Scanner(text).run()))
    return resolve_delimiters(tokens, len(text) + 1) if resolve else tokens


def _fractions_over(tokens: list[Tok]) -> list[Tok]:
    """``{a + b \\over c}`` (plain TeX, as on Wikipedia) is ``\\frac{a + b}{c}``: the braces
    around ``\\over`` hold the numerator before it and the denominator after it."""
    while True:
        at = next((index for index, tok in enumerate(tokens) if tok.kind == "OVER"), None)
        if at is None:
            return tokens
        over = tokens[at]
        start = _enclosing_brace(tokens, at, -1)
        end = _enclosing_brace(tokens, at, 1)
        if start is None or end is None:
            raise ParseError("\\over needs braces around its fraction: {a \\over b}, or write "
                             "\\frac{a}{b}", over.column)
        second = _next_at_same_depth(tokens, at, end)
        if second is not None:
            raise ParseError("two \\over in one group: which one divides?",
                             tokens[second].column)
        frac = Tok("FRAC", "frac", over.column, False)
        close = Tok("RGROUP", "}", over.column, False)
        open_ = Tok("LGROUP", "{", over.column, False)
        tokens = [*tokens[:start + 1], frac, open_, *tokens[start + 1:at], close, open_,
                  *tokens[at + 1:end], close, *tokens[end:]]


def _braced_script_fractions(tokens: list[Tok]) -> list[Tok]:
    """``e^\\frac{x}{2}`` (a fraction as a script without braces, as TeX allows) is
    ``e^{\\frac{x}{2}}``."""
    index = 0
    while index < len(tokens) - 1:
        if tokens[index].kind in ("SUP", "SUBSCRIPT") and tokens[index + 1].kind == "FRAC":
            end: int | None = index + 2
            for _ in range(2):  # the two arguments: a group or one token
                if end is None or end >= len(tokens):
                    end = None
                elif tokens[end].kind == "LGROUP":
                    closing = _enclosing_brace(tokens, end + 1, 1)
                    end = None if closing is None else closing + 1
                else:
                    end += 1
            if end is None:  # an argument is missing: the parser says where
                index += 1
                continue
            frac = tokens[index + 1]
            tokens = [*tokens[:index + 1], Tok("LGROUP", "{", frac.column, False),
                      *tokens[index + 1:end], Tok("RGROUP", "}", frac.column, False),
                      *tokens[end:]]
        index += 1
    return tokens


def _next_at_same_depth(tokens: list[Tok], at: int, end: int) -> int | None:
    """Another ``\\over`` in the same group as ``tokens[at]`` (before ``end``)."""
    depth = 0
    for index in range(at + 1, end):
        kind = tokens[index].kind
        depth += (kind == "LGROUP") - (kind == "RGROUP")
        if depth == 0 and kind == "OVER":
            return index
    return None


def _enclosing_brace(tokens: list[Tok], at: int, step: int) -> int | None:
    """The index of the brace that encloses ``tokens[at]``, looking back (-1) or ahead (1)."""
    opening, closing = ("LGROUP", "RGROUP") if step < 0 else ("RGROUP", "LGROUP")
    depth = 0
    index = at + step
    while 0 <= index < len(tokens):
        kind = tokens[index].kind
        if kind == closing:
            depth += 1
        elif kind == opening:
            if depth == 0:
                return index
            depth -= 1
        index += step
    return None


class _Scanner:
    def __init__(self, text: str, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            raise ParseError(f"formula is nested more than {MAX_NESTING} styles deep", 1,
                             "limit")
        self.depth = depth
        self.text = text
        self.pos = 0
        self.tokens: list[Tok] = []
        self.spaced = False
        self.environments: list[str] = []  # open \begin{...} names
        self.switch_depth: list[int] = []  # group depths where a \rm-style switch is on
        self.group_depth = 0
        #: group depths of braces opened right after ``_``: r_{ln} holds letters, not \ln
        self.subscript_groups: list[int] = []
        #: \left\{ before \begin{array}: the array is a piecewise definition
        self.brace_before_array: list[int] = []

    # --- output -----------------------------------------------------------------------------

    def emit(self, kind: str, value: str, start: int, style: str = "") -> None:
        self.tokens.append(Tok(kind, value, start + 1, self.spaced, style))
        self.spaced = False

    def error(self, message: str, start: int) -> ParseError:
        return ParseError(message, start + 1)

    # --- main loop --------------------------------------------------------------------------

    def run(self) -> list[Tok]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            start = self.pos
            if char.isspace() or char in _UNICODE_SPACES or char == "~":
                self.pos += 1
                self.spaced = True
            elif char == "\\":
                self.command(start)
            elif char.isdigit() or (char == "." and text[start + 1:start + 2].isdigit()):
                self.number(start)
            elif char.isascii() and char.isalpha():
                self.letters(start)
            elif char in "([])|.":
                self.delimiter(char, start, None)
                self.pos += 1
            elif text[start:start + 2] in _TWO_CHAR:
                kind, value = _TWO_CHAR[text[start:start + 2]]
                self.emit(kind, value, start)
                self.pos += 2
            elif char in _SINGLE:
                self.single(char, start)
            elif char in _UNICODE:
                kind, value = _UNICODE[char]
                self.emit(kind, value, start, "greek" if kind == "NAME" else "")
                self.pos += 1
            elif char in _UNICODE_GREEK:
                self.emit("NAME", _UNICODE_GREEK[char], start, "greek")
                self.pos += 1
            elif char == "%":
                raise self.error("'%' starts a LaTeX comment; remove it (or the comment)", start)
            elif char == "\x00":
                raise self.error("input contains a NUL byte", start)
            else:
                raise self.error(f"character {char!r} is not supported in LaTeX input", start)
        if self.environments:
            raise self.error(f"\\begin{{{self.environments[-1]}}} is never ended", len(text))
        return self.tokens

    def single(self, char: str, start: int) -> None:
        kind, value = _SINGLE[char]
        if char == "{":
            self.group_depth += 1
            if self.group_depth > MAX_NESTING:
                raise ParseError(f"formula is nested more than {MAX_NESTING} groups deep",
                                 start + 1, "limit")
            if self.tokens and self.tokens[-1].kind == "SUBSCRIPT":
                self.subscript_groups.append(self.group_depth)
        elif char == "}":
            if self.switch_depth and self.switch_depth[-1] == self.group_depth:
                self.switch_depth.pop()
            if self.subscript_groups and self.subscript_groups[-1] == self.group_depth:
                self.subscript_groups.pop()
            self.group_depth -= 1
        elif char == "&" and self.environments and self.environments[-1] in _ALIGN_ENVIRONMENTS:
            self.pos += 1  # an alignment point, not a cell of a piecewise definition
            return
        self.emit(kind, value, start)
        self.pos += 1
        if char in "^_":
            self.check_script_argument()

    def check_script_argument(self) -> None:
        """LaTeX takes one character after ``^``/``_``: ``x^23`` is ``x^2 3``. The whole run
        is one token of style ``unbraced``, refused if it is read (not in a left-hand side,
        where ``L_focal`` is harmless)."""
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        run = _NUMBER.match(stripped) or _LETTERS.match(stripped)
        if run and len(run.group()) > 1:
            start = self.pos + len(rest) - len(stripped)
            self.emit("NUM" if run.group()[0].isdigit() else "NAME", run.group(), start,
                      "unbraced")
            self.pos = start + len(run.group())

    def number(self, start: int) -> None:
        match = _NUMBER.match(self.text, start)
        assert match is not None
        literal = match.group()
        digits = sum(ch.isdigit() for ch in literal.split("e")[0].split("E")[0])
        if digits > 100:
            raise ParseError(f"number literal with {digits} digits (limit 100)", start + 1,
                             "limit")
        self.emit("NUM", literal, start)
        self.pos = match.end()

    def letters(self, start: int) -> None:
        match = _LETTERS.match(self.text, start)
        assert match is not None
        word = match.group()
        self.pos = match.end()
        # letters followed by digits make one name: x1, x2 (MarginRankingLoss)
        digits = re.match(r"\d+", self.text[self.pos:])
        if digits and (len(word) == 1 or len(word) >= 3) and not self.after_script():
            word += digits.group()
            self.pos += len(digits.group())
        if self.switch_depth:
            self.word(word, start, "text")
        elif self.after_script():
            self.emit("NAME", word, start, "letter")  # a one-letter script (checked before)
        else:
            self.word(word, start, "word")

    def in_subscript(self) -> bool:
        """Directly inside the braces of a subscript: ``ln`` of ``r_{ln}`` is two letters."""
        return bool(self.subscript_groups) and self.subscript_groups[-1] == self.group_depth

    def after_script(self) -> bool:
        return bool(self.tokens) and self.tokens[-1].kind in ("SUP", "SUBSCRIPT")

    def word(self, word: str, start: int, style: str) -> None:
        """A run of letters: a function, a keyword, one name, or (two bare letters) two names."""
        if word in KEYWORDS:
            self.emit(KEYWORDS[word], word, start)
        elif word in FUNCTION_WORDS and (style != "word" or len(word) > 1) and \
                not (style == "word" and self.in_subscript()):
            self.emit("FUNC", FUNCTION_WORDS[word], start, style)
        elif style == "word" and len(word) == 1:
            self.emit("NAME", word, start, "letter")
        elif style == "word" and len(word) == 2 and word.isalpha():
            self.emit("NAME", word[0], start, "letter")
            # CE(p, y), hd(X, Y): the reader asks whether this is one function or a product
            self.emit("NAME", word[1], start + 1, "pair")
        elif style == "word" and word[:2].isalpha() and len(word.rstrip("0123456789")) == 2:
            raise self.error(f"{word!r}: write one name with \\text{{{word}}}, or separate "
                             "the factors with spaces", start)
        else:
            self.emit("NAME", word, start, style)

    # --- commands ---------------------------------------------------------------------------

    def command(self, start: int) -> None:
        text = self.text
        if text.startswith("\\\\", start):
            self.pos = start + 2
            dimension = _DIMENSION.match(text, self.pos)
            if dimension:
                self.pos = dimension.end()
            self.emit("ROWSEP", "\\\\", start)
            return
        match = _COMMAND.match(text, start)
        if match is None:
            self.symbol_command(start)
            return
        name = match.group(1)
        self.pos = match.end()
        if name in ("begin", "end"):
            self.environment(start)
        elif name in _SPACING:
            self.spaced = True
        elif name in _SIZING:
            self.sized_delimiter(name, start)
        elif name in GREEK:
            self.emit("NAME", GREEK[name], start, "greek")
        elif name in FUNCTION_COMMANDS:
            self.emit("FUNC", FUNCTION_COMMANDS[name], start, "command")
        elif name in _SIMPLE_COMMANDS:
            kind, value = _SIMPLE_COMMANDS[name]
            self.emit(kind, value, start)
            if kind == "FRAC":
                self.split_digit_arguments(2)
            elif kind == "SQRT":
                self.split_digit_arguments(1)
        elif name == "not":
            self.negation(start)
        elif name in _ACCENTS:
            self.emit("ACCENT", _ACCENTS[name], start)
        elif name in _TEXT_STYLES:
            self.text_style(_TEXT_STYLES[name], start)
        elif name in _MATH_STYLES:
            self.math_style(name, start)
        elif name in _SWITCHES:
            self.switch_depth.append(self.group_depth)
        elif "\\" + name in _DELIMITERS:
            self.delimiter("\\" + name, start, None)
        elif name in ("label", "tag"):
            self.skip_argument(start)
        elif name in _UNSUPPORTED:
            raise self.error(_UNSUPPORTED[name], start)
        else:
            raise self.error(f"unknown LaTeX command \\{name}", start)

    def symbol_command(self, start: int) -> None:
        """``\\`` followed by one character that is not a letter."""
        char = self.text[start + 1:start + 2]
        self.pos = start + 2
        if char in _SPACING_SYMBOLS or char in ("\n", "\t", "\r"):
            self.spaced = True
        elif "\\" + char in _DELIMITERS:
            self.delimiter("\\" + char, start, None)
        elif char == "_":
            raise self.error("'\\_' is only allowed inside \\text{...}", start)
        elif not char:
            raise self.error("the formula ends with a lone backslash", start)
        else:
            raise self.error(f"'\\{char}' is not supported", start)

    def negation(self, start: int) -> None:
        """``\\not=`` and ``\\not\\equiv`` are ``!=``; other negations are not supported."""
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        skipped = len(rest) - len(stripped)
        for written in ("=", "\\equiv"):
            if stripped.startswith(written):
                self.pos += skipped + len(written)
                self.emit("REL", "!=", start)
                return
        raise self.error("\\not is only supported before = (\\not=)", start)

    def split_digit_arguments(self, count: int) -> None:
        """``\\frac12`` is 1/2: without braces, each argument of \\frac is one character."""
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        run = re.match(r"\d+", stripped)
        if not run or len(run.group()) == 1:
            return
        first = self.pos + len(rest) - len(stripped)
        digits = run.group()
        if len(digits) > count:
            raise self.error(f"cannot tell the arguments apart in {digits}: use braces", first)
        for offset, digit in enumerate(digits):
            self.emit("NUM", digit, first + offset)
        self.pos = first + len(digits)

    def braced_argument(self, start: int, what: str) -> tuple[str, int]:
        """The raw text of the ``{...}`` argument after a command, and its start index."""
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        open_at = self.pos + len(rest) - len(stripped)
        if not stripped.startswith("{"):
            raise self.error(f"{what} needs a braced argument, as in {what}{{...}}", start)
        depth = 0
        for index in range(open_at, len(self.text)):
            char = self.text[index]
            if char == "\\":
                continue
            if char == "{" and self.text[index - 1] != "\\":
                depth += 1
            elif char == "}" and self.text[index - 1] != "\\":
                depth -= 1
                if depth == 0:
                    self.pos = index + 1
                    return self.text[open_at + 1:index], open_at + 1
        raise self.error(f"the argument of {what} is never closed", open_at)

    def skip_argument(self, start: int) -> None:
        self.braced_argument(start, self.text[start:self.pos])
        self.spaced = True

    def text_style(self, style: str, start: int) -> None:
        """``\\text{if }``, ``\\mathrm{eps}``, ``\\operatorname{sign}``: words, one by one."""
        command = self.text[start:self.pos]
        content, content_start = self.braced_argument(start, command)
        # ~ is a space in LaTeX (\text{if~}); a parenthesized remark is prose, not a name:
        # \text{for }p=0\text{ (Normal)} (the scikit-learn user guide)
        cleaned = re.sub(r"\\[ ,;:!]|~", " ", content).replace("\\_", "_")
        cleaned = _TEXT_REMARK.sub(" ", cleaned)
        if "\\" in cleaned:
            if command.startswith(("\\math", "\\operatorname")):
                # \mathrm{\Delta}: mathematics in upright type
                inner = _Scanner(content, self.depth + 1)
                self.tokens.extend(inner.run_inside(content_start, self.spaced))
                self.spaced = False
                return
            raise self.error(f"cannot read {command}{{{content}}}", start)
        pieces = cleaned.split()
        words = [piece.rstrip(",.;:!") for piece in pieces]
        if len(pieces) > 1 and any(word in KEYWORDS for word in words):
            # \text{for all } x > 0: next to "if", "for", "and"... a word is prose, not a name
            prose = next((word for word in words if word not in KEYWORDS), None)
            if prose is not None:
                self.emit("UNREADABLE", f"cannot read {command}{{{content}}}: {prose!r} is "
                          "prose, not a name (write the condition in symbols)", start)
                return
        for piece in pieces:
            self.text_word(piece, start, command, content, style)
        self.spaced = self.spaced or not cleaned.strip() or cleaned[-1:].isspace()

    def text_word(self, piece: str, start: int, command: str, content: str,
                  style: str) -> None:
        """One whitespace-separated word of a text argument; trailing ``,`` ``.`` are kept."""
        trailing = re.search(r"[,.;:!]+$", piece)
        core = piece[: trailing.start()] if trailing else piece
        if core and _TEXT_WORD.fullmatch(core) and "'" not in core:
            if core[0].isdigit():
                self.emit("NUM", core, start)
            else:
                self.word(core, start, style)
        elif core:
            # an error only if it is read: the left-hand side (L_{\text{Poly-1}} =) is not
            self.emit("UNREADABLE", f"cannot read {command}{{{content}}} as a name", start)
        marks = {",": "COMMA", ".": "PERIOD", ";": "SEMI", ":": "SEMI", "!": "BANG"}
        for mark in trailing.group() if trailing else "":
            self.emit(marks[mark], mark, start)

    def run_inside(self, offset: int, spaced: bool) -> list[Tok]:
        """Tokens of a nested argument, with columns shifted to the outer input."""
        tokens = self.run()
        shifted = [replace(tok, column=tok.column + offset) for tok in tokens]
        if shifted:
            shifted[0] = replace(shifted[0], spaced=spaced)
        return shifted

    def math_style(self, name: str, start: int) -> None:
        """``\\mathbf{x}`` is ``x``; ``\\mathbb{1}`` and ``\\mathbf{1}`` are indicators."""
        command = "\\" + name
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            content, content_start = self.braced_argument(start, command)
        elif stripped[:1].isalnum():
            content_start = self.pos + len(rest) - len(stripped)
            content = stripped[0]
            self.pos = content_start + 1
        elif stripped.startswith("\\"):
            content_start = self.pos + len(rest) - len(stripped)
            match = _COMMAND.match(stripped)
            content = match.group() if match else stripped[:2]
            self.pos = content_start + len(content)
        else:
            raise self.error(f"{command} needs an argument", start)
        letter = content.strip()
        blackboard = name in ("mathbb", "mathds", "mathbbm")
        if (letter == "1" and name in _INDICATOR_STYLES) or (letter == "I" and blackboard):
            self.emit("INDICATOR", "1", start)
            return
        if blackboard:
            if letter == "E":
                self.expectation(start)
                return
            raise self.error(f"{command}{{{letter}}} (a set or an operator) is not supported",
                             start)
        inner = _Scanner(content, self.depth + 1).run_inside(content_start, self.spaced)
        self.spaced = False
        style = _MATH_STYLES[name]
        for tok in inner:
            if tok.kind == "NAME" and style:
                tok = replace(tok, style=style)
            self.tokens.append(tok)

    def expectation(self, start: int) -> None:
        """``\\mathbb{E}_{x \\sim p}``: an expectation; its subscript names the distribution
        of the sample and is not read (it may hold ``\\sim``, ``|``...)."""
        self.emit("EXPECT", "E", start)
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        if not stripped.startswith("_"):
            return
        self.pos += len(rest) - len(stripped) + 1
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            self.braced_argument(start, "the subscript of \\mathbb{E}")
        else:
            match = _COMMAND.match(stripped) or re.match(r"[A-Za-z0-9]", stripped)
            if match is None:
                raise self.error("cannot read the subscript of \\mathbb{E}", start)
            self.pos += len(rest) - len(stripped) + len(match.group())
        self.spaced = True

    def environment(self, start: int) -> None:
        match = _ENVIRONMENT.match(self.text, start)
        if match is None:
            raise self.error("\\begin and \\end need an environment name in braces", start)
        which, name = match.groups()
        self.pos = match.end()
        if which == "begin":
            self.environments.append(name)
            if name in _CASES_ENVIRONMENTS:
                self.emit("BEGIN_CASES", name, start)
            elif name in _ARRAY_ENVIRONMENTS:
                self.array_begin(name, start)
            elif name not in _WRAPPER_ENVIRONMENTS and name not in _ALIGN_ENVIRONMENTS:
                raise self.error(f"the {name} environment is not supported", start)
            return
        if not self.environments or self.environments[-1] != name:
            expected = self.environments[-1] if self.environments else None
            raise self.error(f"\\end{{{name}}} does not match "
                             + (f"\\begin{{{expected}}}" if expected else "any \\begin"), start)
        self.environments.pop()
        if name in _CASES_ENVIRONMENTS:
            self.emit("END_CASES", name, start)
        elif name in _ARRAY_ENVIRONMENTS:
            self.emit("END_CASES", name, start)
            self.array_end(start)

    def array_begin(self, name: str, start: int) -> None:
        """``\\left\\{\\begin{array}{ll}``: a piecewise definition; the brace goes with it."""
        if name == "array":
            self.braced_argument(start, "\\begin{array}")  # the column specification
        if not (self.tokens and self.tokens[-1].kind == "SET_OPEN_PENDING"):
            raise self.error(f"a {name} is only supported as a piecewise definition, after "
                             "\\left\\{", start)
        self.tokens.pop()
        self.emit("BEGIN_CASES", name, start)

    def array_end(self, start: int) -> None:
        """Drop the ``\\right.`` (or ``\\right\\}``) that closes the brace of a piecewise array."""
        rest = self.text[self.pos:]
        match = re.match(r"\s*\\right\s*(\.|\\\})", rest)
        if match:
            self.pos += match.end()

    # --- delimiters -------------------------------------------------------------------------

    def sized_delimiter(self, name: str, start: int) -> None:
        """``\\left(``, ``\\bigr]``, ``\\left.``: the delimiter, its direction forced."""
        rest = self.text[self.pos:]
        stripped = rest.lstrip()
        at = self.pos + len(rest) - len(stripped)
        written = None
        match = _COMMAND.match(stripped)
        if stripped[:2] in (r"\{", r"\}", r"\|"):
            written = stripped[:2]
        elif match and match.group() in _DELIMITERS:
            written = match.group()
        elif stripped[:1] in "()[]|.":
            written = stripped[:1]
        if written is None:
            if _SIZING[name] is None and name.startswith(("big", "Big")):
                raise self.error(f"\\{name} must be followed by a delimiter", start)
            raise self.error(f"\\{name} must be followed by a delimiter such as ( [ \\{{ |",
                             start)
        self.pos = at + len(written)
        self.delimiter(written, start, _SIZING[name])

    def delimiter(self, written: str, start: int, forced: str | None) -> None:
        family, direction = _DELIMITERS[written]
        direction = forced or direction
        if family == "DOT":
            if written == "." and forced is None:
                self.emit("PERIOD", ".", start)
                return
            raise self.error(f"\\{'left' if forced == 'open' else 'right'}. is only supported "
                             "around a piecewise definition", start)
        if family == "SET" and direction == "open" and self.brace_opens_array():
            self.emit("SET_OPEN_PENDING", "{", start)
            return
        if family in ("BAR", "NORM") and written == "|" and forced is None and \
                self.text.startswith("||", start):
            # || is a norm bar (||w||_2^2); resolved with the others later
            self.emit("NORM_EITHER", "||", start)
            self.pos += 1
            return
        if direction is None:
            self.emit(f"{family}_EITHER", written, start)
        else:
            opener, closer = _BRACKET_TOKENS[family]
            self.emit(opener if direction == "open" else closer, written, start)

    def brace_opens_array(self) -> bool:
        """Is the next thing ``\\begin{array}`` (or matrix)? Then ``\\{`` belongs to it."""
        match = _ENVIRONMENT.match(self.text, len(self.text) - len(self.text[self.pos:].lstrip()))
        return match is not None and match.group(1) == "begin" and \
            match.group(2) in _ARRAY_ENVIRONMENTS


#: Tokens after which a bar closes (they end an operand).
_OPERAND_END = frozenset(
    ["NAME", "NUM", "CONST", "INFTY", "RPAREN", "RBRACK", "RSET", "RGROUP", "BAR_CLOSE",
     "NORM_CLOSE", "FLOOR_CLOSE", "CEIL_CLOSE", "ANGLE_CLOSE", "END_CASES", "PRIME", "BANG",
     "DOTS", "TOP"]
)


def resolve_delimiters(tokens: list[Tok], end_column: int) -> list[Tok]:
    """Turn each ambiguous bar into an opening or closing one, and check that brackets match.

    A bar closes when the innermost open bracket is a bar of its kind and the token before it
    ends an operand; otherwise it opens. ``||`` closes a norm opened by ``||`` (or a bar, then
    opens another), or opens a norm.
    """
    resolved: list[Tok] = []
    stack: list[tuple[str, Tok]] = []  # (family, opening token)
    depth_limit = MAX_NESTING
    for tok in tokens:
        kind = tok.kind
        after_operand = bool(resolved) and (resolved[-1].kind in _OPERAND_END or (
            # [x]_+ and x^* end an operand with their script's sign
            len(resolved) > 1 and resolved[-1].kind in ("ADD", "SUB", "STAR") and
            resolved[-2].kind in ("SUBSCRIPT", "SUP")))
        if kind == "NORM_EITHER" and tok.value == "||":
            top = stack[-1][0] if stack else None
            if after_operand and top == "BAR":
                first = replace(tok, kind="BAR_CLOSE", value="|")
                stack.pop()
                resolved.append(first)
                second = replace(tok, kind="BAR_EITHER", value="|", column=tok.column + 1,
                                 spaced=False)
                tok, kind = second, "BAR_EITHER"
                after_operand = True
            else:
                tok, kind = replace(tok, kind="NORM_EITHER"), "NORM_EITHER"
        if kind in ("BAR_EITHER", "NORM_EITHER"):
            family = kind.split("_")[0]
            top = stack[-1][0] if stack else None
            closes = after_operand and top == family
            opener, closer = _BRACKET_TOKENS[family]
            tok = replace(tok, kind=closer if closes else opener)
            kind = tok.kind
        if kind in _OPENER_FAMILY:
            stack.append((_OPENER_FAMILY[kind], tok))
            if len(stack) > depth_limit:
                raise ParseError(f"formula is nested more than {depth_limit} brackets deep",
                                 tok.column, "limit")
        elif kind in _CLOSER_FAMILY:
            family = _CLOSER_FAMILY[kind]
            if not stack:
                raise ParseError(f"'{tok.value}' closes a bracket that was never opened",
                                 tok.column)
            open_family, open_tok = stack.pop()
            if open_family != family:
                raise ParseError(f"'{tok.value}' does not match '{open_tok.value}' at column "
                                 f"{open_tok.column}", tok.column)
        elif kind == "SET_OPEN_PENDING":
            raise ParseError("\\{ is not followed by a piecewise array", tok.column)
        resolved.append(tok)
    if stack:
        family, open_tok = stack[-1]
        raise ParseError(f"'{open_tok.value}' at column {open_tok.column} is never closed",
                         end_column)
    return resolved
