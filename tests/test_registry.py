"""The primitive registry: the lookup other readers use, documentation generated from it,
and every entry's smoothness class checked against the analysis of its sample call."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from diffcheck import check, functions
from diffcheck.primitives import ENTRIES, MODULE_PREFIXES, lookup, markdown_table, split_prefix
from diffcheck.primitives.switching import FAMILIES, SWITCHES, code_for
from diffcheck.rules import RULES

x = sp.Symbol("x", real=True)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_the_documented_smoothness_is_what_the_analysis_finds(entry):
    report = check(entry.sample_call)
    assert report.error is None, report.error
    assert report.smoothness == entry.class_word, (entry.sample_call, report.findings)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_entry_is_documented(entry):
    assert entry.doc and "\n" not in entry.doc
    assert entry.smoothness
    assert entry.doc.startswith(entry.name) or entry.name == "mean"


def test_readme_function_table_is_generated_from_the_registry():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- functions:start -->\n", "\n<!-- functions:end -->"
    assert readme[readme.index(start) + len(start):readme.index(end)] == markdown_table()


def test_lookup_is_the_one_entry_point_for_readers():
    entry = lookup("hardtanh")
    assert entry is lookup("hard_tanh")  # one entry, several spellings
    assert entry.parameters() == ("u", "lo", "hi")
    assert entry.keywords == {"min_val": "lo", "max_val": "hi"}
    assert (entry.min_args, entry.max_args, entry.ignored_keywords) == (1, 3, {"inplace"})
    assert entry.build(x, sp.Integer(-2), sp.Integer(2)) == sp.Min(sp.Max(x, -2), 2)
    assert lookup("softplus").keywords["threshold"] == "threshold"
    assert lookup("where").condition_args == {0}
    assert lookup("clip").accepts_none
    assert lookup("F.relu") is None and lookup("no_such_function") is None
    assert functions.VOCABULARY["relu"] is lookup("relu")  # the former name still works


def test_module_prefixes_are_matched_longest_first():
    assert split_prefix("torch.nn.functional.softplus") == ("torch.nn.functional.", "softplus")
    assert split_prefix("jax.scipy.special.erf") == ("jax.scipy.special.", "erf")
    assert split_prefix("os.system") is None
    assert list(MODULE_PREFIXES) == sorted(MODULE_PREFIXES, key=len, reverse=True)


def test_softplus_threshold_is_kept_for_the_program_and_left_out_of_the_math():
    entry = lookup("softplus")
    smooth = entry.build(x, sp.Integer(2), sp.Integer(20))
    assert smooth == sp.log(1 + sp.exp(2 * x)) / 2
    assert "threshold" in entry.autodiff and "threshold" in entry.smoothness


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("kind", ["kink", "jump", "infinite-slope"])
def test_every_family_names_a_code_for_every_kind_it_can_cause(family, kind):
    assert RULES[code_for(kind, family)].kind == kind


def test_an_unlisted_kind_and_family_pair_raises():
    with pytest.raises(KeyError):
        code_for("pole", "abs")
    with pytest.raises(KeyError):
        code_for("kink", "no-such-family")


def test_every_switch_produces_only_registered_families():
    assert {family for switch in SWITCHES.values() for family in switch.families} == set(FAMILIES)


@pytest.mark.parametrize("node", [
    sp.Abs(x), sp.Max(x, 0), sp.Min(x, 0), sp.Min(sp.Max(x, 0), 1), sp.Max(x / 4, -3 * x / 4),
    sp.sign(x), sp.Heaviside(x), sp.floor(x), sp.floor(x + sp.Rational(1, 2)), sp.ceiling(x),
    sp.Mod(x, 2), sp.Piecewise((x, x > 0), (0, True)), sp.Piecewise((1, x > 0), (0, True)),
    sp.sqrt(x), sp.acos(x), sp.asin(x),
], ids=str)
def test_every_switch_is_replaced_by_a_surrogate_family_it_names(node):
    from diffcheck.surrogates import SURROGATES, recognize

    family = recognize(node).family
    assert family in SWITCHES[type(node)].surrogates
    assert SURROGATES[family]
