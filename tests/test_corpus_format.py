"""The corpus of real losses and models (tests/corpus) is well-formed data.

The labels themselves are checked numerically by tools/verify_corpus.py (PyTorch/JAX, not in
CI); here: every case has its source, names a function or class that exists in it (read with
ast, never imported), and uses only the contract's vocabulary, so the scorers can run it.
"""

import ast
import json
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
KINDS = {"kink", "jump", "infinite-slope", "zero-gradient", "pole", "domain"}
CLASSES = {"discontinuous", "C0", "C1", "C2", "Cinf"}
SOURCE_KEYS = {"id", "function", "framework", "wrt", "fixed", "differentiable", "smoothness", "kinds",
               "confidence", "where", "source", "why"}
MODEL_KEYS = {"id", "class", "framework", "init", "wrt", "differentiable", "smoothness", "kinds", "cuts", "ste",
              "where", "why"}


def _cases(folder):
    return sorted((CORPUS / folder).glob("*.json"))


def _definitions(py: Path) -> dict:
    tree = ast.parse(py.read_text(), filename=str(py))
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
    return found


def _methods(classes: dict, name: str) -> set:
    """Method names of a class of the file, including those inherited from classes of the file."""
    node = classes[name]
    names = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            names |= _methods(classes, base.id)
    return names


def _labels_common(case):
    assert case["smoothness"] in CLASSES
    assert set(case["kinds"]) <= KINDS
    non_smooth = {"kink", "jump", "infinite-slope"} & set(case["kinds"])
    assert bool(non_smooth) != case["differentiable"], "a verdict needs a matching kink/jump/infinite-slope"
    assert (case["smoothness"] == "discontinuous") == ("jump" in case["kinds"])
    if case["differentiable"]:
        assert case["smoothness"] not in ("discontinuous", "C0")


def test_corpus_sizes():
    assert len(_cases("source")) >= 50
    assert len(_cases("models")) >= 24
    assert len(json.loads((CORPUS / "compositions.json").read_text())) >= 6


@pytest.mark.parametrize("path", _cases("source"), ids=lambda p: p.stem)
def test_source_case(path):
    case = json.loads(path.read_text())
    assert set(case) == SOURCE_KEYS and case["id"] == path.stem
    assert case["framework"] in {"torch", "jax", "numpy"} and case["confidence"] in {"high", "medium", "low"}
    _labels_common(case)
    defs = _definitions(path.with_suffix(".py"))
    name = case["function"]
    if "." in name:
        cls, method = name.split(".")
        assert method in _methods(defs, cls)
        fn = next((n for n in defs[cls].body if isinstance(n, ast.FunctionDef) and n.name == method), None)
    else:
        fn = defs[name]
    if fn is not None:  # an inherited method is checked through the class
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        assert set(case["wrt"]) <= params


@pytest.mark.parametrize("path", _cases("models"), ids=lambda p: p.stem)
def test_model_case(path):
    case = json.loads(path.read_text())
    assert set(case) - {"confidence"} == MODEL_KEYS and case["id"] == path.stem
    _labels_common(case)
    py = path.with_suffix(".py")
    defs = _definitions(py)
    assert "forward" in _methods(defs, case["class"])
    lines = py.read_text().splitlines()
    for cut in case["cuts"]:
        assert cut["param"].split(".")[-1] in py.read_text() and cut["why"]
        assert 1 <= cut["line"] <= len(lines)
    assert bool(case["cuts"]) <= ("zero-gradient" in case["kinds"])
    if case["ste"]:
        # x + (q - x).detach(), a torch.autograd.Function whose backward passes it through, or
        # BinaryNet's weight.data = sign(...)
        text = py.read_text()
        assert any(s in text for s in (".detach()", "def backward", ".data =")) \
            and "jump" in case["kinds"]


def test_compositions_name_corpus_files():
    for comp in json.loads((CORPUS / "compositions.json").read_text()):
        model_path, cls = comp["model"].split("::")
        assert cls in _definitions(CORPUS / model_path)
        if "::" in comp["loss"]:
            loss_path, name = comp["loss"].split("::")
            assert name in _definitions(CORPUS / loss_path)
        else:
            ast.parse(comp["loss"], mode="eval")
        _labels_common(comp)
