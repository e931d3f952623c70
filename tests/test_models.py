"""Models and compositions: nn.Module forwards checked w.r.t. their parameters.

Each case is a model written in the style of real code, with what must be reported: the
verdict, the kinds, the parameters cut off the output (and the line that cuts them), and
whether a straight-through estimator carries the gradient.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from diffcheck.api import check_composition, check_source, source_jobs
from diffcheck.cli import app

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"

# (source, class, differentiable, kinds, cut names, ste)
MODELS = [
    pytest.param("""
        class MLP(nn.Module):
            def __init__(self, d: int = 8, hidden: int = 16):
                super().__init__()
                self.fc1 = nn.Linear(d, hidden)
                self.act = nn.ReLU()
                self.fc2 = nn.Linear(hidden, 1)

            def forward(self, x):
                return self.fc2(self.act(self.fc1(x)))
        """, "MLP", False, {"kink"}, [], False, id="mlp-relu"),
    pytest.param("""
        class SmoothMLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8), nn.SiLU(),
                                         nn.LayerNorm(8), nn.Dropout(0.1), nn.Linear(8, 1))

            def forward(self, x):
                return self.net(x)
        """, "SmoothMLP", True, set(), [], False, id="sequential-smooth"),
    pytest.param("""
        class DetachedHead(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 8)
                self.head = nn.Linear(8, 1)

            def forward(self, x):
                return self.head(self.body(x).detach())
        """, "DetachedHead", True, {"zero-gradient"}, ["body"], False, id="detached-body"),
    pytest.param("""
        class Frozen(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(4, 8)
                self.probe = nn.Linear(8, 1)
                self.unused = nn.Linear(8, 8)

            def forward(self, x):
                with torch.no_grad():
                    h = torch.tanh(self.backbone(x))
                return self.probe(h)
        """, "Frozen", True, {"zero-gradient"}, ["backbone", "unused"], False, id="no-grad-and-unused"),
    pytest.param("""
        class QuantLinear(nn.Module):
            def __init__(self, scale: float = 0.1):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self.scale = scale

            def forward(self, x):
                w = self.fc.weight
                q = torch.round(w / self.scale) * self.scale
                return F.linear(x, w + (q - w).detach(), self.fc.bias)
        """, "QuantLinear", False, {"jump"}, [], True, id="straight-through-rounding"),
    pytest.param("""
        class PoolNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)
                self.bn = nn.BatchNorm2d(4)
                self.pool = nn.MaxPool2d(2)
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                h = self.pool(torch.sigmoid(self.bn(self.conv(x))))
                return self.fc(h.flatten(1))
        """, "PoolNet", False, {"kink"}, [], False, id="max-pool-ties"),
    pytest.param("""
        class Router(nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = nn.Linear(4, 3)
                self.value = nn.Linear(4, 4)

            def forward(self, x):
                idx = self.gate(x).argmax(dim=-1)
                return self.value(x) * idx.float()
        """, "Router", False, {"jump"}, ["gate"], False, id="argmax-index-cuts-the-gate"),
    pytest.param("""
        class ConvNormAct(nn.Sequential):
            def __init__(self, c_in: int, c_out: int, act=nn.SiLU):
                layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
                if act is not None:
                    layers.append(act(inplace=True))
                super().__init__(*layers)

        class Block(nn.Module):
            def __init__(self, channels: int = 4):
                super().__init__()
                self.stem = ConvNormAct(channels, channels << 1)
                self.project = ConvNormAct(channels << 1, channels, act=None)

            def forward(self, x):
                assert len(self.stem) == 3
                return x + self.project(self.stem(x))
        """, "Block", True, set(), [], False, id="sequential-subclass-and-int-shift"),
    pytest.param("""
        import collections.abc
        from itertools import repeat

        def to_2tuple(x):
            if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
                return tuple(x)
            return tuple(repeat(x, 2))

        class Mlp(nn.Module):
            def __init__(self, d: int = 4, bias=(True, False), drop=0.1):
                super().__init__()
                bias, drop_probs = to_2tuple(bias), to_2tuple(drop)
                self.fc1 = nn.Linear(d, 2 * d, bias=bias[0])
                self.drop1 = nn.Dropout(drop_probs[0])
                self.fc2 = nn.Linear(2 * d, d, bias=bias[1])

            def forward(self, x):
                return self.fc2(self.drop1(F.gelu(self.fc1(x))))
        """, "Mlp", True, set(), [], False, id="timm-to-2tuple"),
    pytest.param("""
        from inspect import isfunction

        def default(val, d):
            if val is not None:
                return val
            return d() if isfunction(d) else d

        class FeedForward(nn.Module):
            def __init__(self, dim: int = 3, dim_out=None, mult: int = 2, act=None):
                super().__init__()
                inner_dim = int(dim * mult)
                act = default(act, lambda: nn.GELU())
                assert callable(act) and not callable(inner_dim)
                self.net = nn.Sequential(nn.Linear(dim, inner_dim), act,
                                         nn.Linear(inner_dim, default(dim_out, dim)))

            def forward(self, x):
                return self.net(x)
        """, "FeedForward", True, set(), [], False, id="ldm-default-isfunction-callable"),
    pytest.param("""
        from torch.autograd import Function

        class SignSTE(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.sign()

            @staticmethod
            def backward(ctx, grad_output):
                x, = ctx.saved_tensors
                grad_input = grad_output.clone()
                grad_input[x.abs() > 1] = 0
                return grad_input

        class BinaryLinear(nn.Linear):
            def forward(self, x):
                return F.linear(x, SignSTE.apply(self.weight), self.bias)
        """, "BinaryLinear", False, {"jump"}, [], True, id="autograd-function-straight-through"),
    pytest.param("""
        class Scale(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, factor):
                ctx.factor = factor
                return x * factor

            @staticmethod
            def backward(ctx, grad_output):
                return None, None

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(3, 3)
                self.head = nn.Linear(3, 1)

            def forward(self, x):
                return self.head(Scale.apply(torch.tanh(self.body(x)), 2.0))
        """, "Net", True, {"zero-gradient"}, ["body"], False, id="autograd-function-without-gradient"),
    pytest.param("""
        class GatedDense(nn.Module):
            def __init__(self, d_model: int = 3, d_ff: int = 4):
                super().__init__()
                self.wi_0 = nn.Linear(d_model, d_ff, bias=False)
                self.wi_1 = nn.Linear(d_model, d_ff, bias=False)
                self.wo = nn.Linear(d_ff, d_model, bias=False)

            def forward(self, h):
                h = F.gelu(self.wi_0(h)) * self.wi_1(h)
                if (
                    isinstance(self.wo.weight, torch.Tensor)
                    and h.dtype != self.wo.weight.dtype
                    and self.wo.weight.dtype != torch.int8
                ):
                    h = h.to(self.wo.weight.dtype)
                return self.wo(h)
        """, "GatedDense", True, set(), [], False, id="hf-t5-undecided-dtype-test"),
    pytest.param("""
        from torch.nn.utils import spectral_norm

        class Critic(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = spectral_norm(nn.Conv2d(2, 2, 3, 1, 1))
                self.head = nn.utils.parametrizations.weight_norm(nn.Linear(2, 1))

            def forward(self, x):
                return self.head(torch.tanh(self.conv(x)).mean(dim=(2, 3)))
        """, "Critic", True, set(), [], False, id="spectral-and-weight-norm-keep-the-layer"),
    pytest.param("""
        class BinarizeLinear(nn.Linear):
            def forward(self, input):
                if not hasattr(self.weight, 'org'):
                    self.weight.org = self.weight.data.clone()
                self.weight.data = self.weight.org.sign()
                return F.linear(input, self.weight, self.bias)
        """, "BinarizeLinear", False, {"jump"}, [], True, id="binarynet-data-assignment-is-straight-through"),
    pytest.param("""
        class PReLUNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.act = nn.PReLU()
                self.glu = nn.GLU(dim=-1)
                self.fc2 = nn.Linear(4, 1)

            def forward(self, x):
                return self.fc2(self.glu(self.act(self.fc1(x))))
        """, "PReLUNet", False, {"kink"}, [], False, id="prelu-learnable-slope-glu"),
    pytest.param("""
        class GLUNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(4, 1)

            def forward(self, x):
                return self.fc2(F.glu(self.fc1(x), dim=-1))
        """, "GLUNet", True, set(), [], False, id="glu-smooth"),
    pytest.param("""
        class RReLUSoftmin(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.act = nn.RReLU()
                self.sm = nn.Softmin(dim=-1)

            def forward(self, x):
                return self.sm(self.act(self.fc(x)))
        """, "RReLUSoftmin", False, {"kink"}, [], False, id="rrelu-softmin-modules"),
]


def _source(case_id: str) -> str:
    (case,) = [case for case in MODELS if case.id == case_id]
    return case.values[0]


def run_model(tmp_path, source: str, name: str):
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent(source))
    (report,) = check_source(path, selector=name)
    return report


@pytest.mark.parametrize("source, name, differentiable, kinds, cut, ste", MODELS)
def test_model_findings(tmp_path, source, name, differentiable, kinds, cut, ste):
    report = run_model(tmp_path, source, name)
    assert report.error is None, report.error
    assert report.differentiable is differentiable
    assert {f.kind for f in report.findings} >= kinds
    claimed = sorted(n for f in report.findings for n in (f.cut or []))
    assert claimed == sorted(cut)
    assert any(f.ste for f in report.findings) is ste
    assert all(p.split(".")[0] in report.input for p in report.wrt)


def test_children_of_a_sequential_subclass_are_named_by_position(tmp_path):
    report = run_model(tmp_path, _source("sequential-subclass-and-int-shift"), "Block")
    assert report.wrt == ["stem.0.weight", "stem.1.weight", "stem.1.bias",
                          "project.0.weight", "project.1.weight", "project.1.bias"]


def test_the_kink_of_each_channel_of_a_layer_is_reported_once(tmp_path):
    # each channel's ReLU reads `branch.1(branch.0(x[..., 1])) = 0` once the layer calls are
    # written without their weights (ShuffleNetV2's branch2 said it three times)
    report = run_model(tmp_path, """
        class Half(nn.Module):
            def __init__(self):
                super().__init__()
                self.branch = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), nn.BatchNorm2d(2),
                                            nn.ReLU())

            def forward(self, x):
                kept, sent = x.chunk(2, dim=1)
                return torch.cat((kept, self.branch(sent)), dim=1)
        """, "Half")
    (kink,) = [f for f in report.findings if f.kind == "kink"]
    assert kink.where.startswith("branch.1(branch.0(")


def test_a_normalized_layer_keeps_its_parameters(tmp_path):
    report = run_model(tmp_path, _source("spectral-and-weight-norm-keep-the-layer"), "Critic")
    assert report.wrt == ["conv.weight", "conv.bias", "head.weight", "head.bias"]


def test_timm_to_2tuple_keeps_a_pair_and_repeats_a_number(tmp_path):
    report = run_model(tmp_path, _source("timm-to-2tuple"), "Mlp")
    assert report.wrt == ["fc1.weight", "fc1.bias", "fc2.weight"]


def test_a_deep_conv_bn_relu_chain_has_kinks_and_no_jump(tmp_path):
    # conv-BN-ReLU, conv-BN, conv-BN-ReLU (ShuffleNetV2's branch): the model-function
    # stand-ins nest three cubes deep, which once read as a jump at the second ReLU
    report = run_model(tmp_path, """
        class Branch(nn.Module):
            def __init__(self, c: int = 2):
                super().__init__()
                self.s = nn.Sequential(
                    nn.Linear(c, c, bias=False), nn.BatchNorm1d(c), nn.ReLU(),
                    nn.Linear(c, c, bias=False), nn.BatchNorm1d(c),
                    nn.Linear(c, c, bias=False), nn.BatchNorm1d(c), nn.ReLU())

            def forward(self, x):
                return self.s(x)
        """, "Branch")
    assert report.smoothness == "C0"
    assert {f.kind for f in report.findings} == {"kink"}


def test_sizes_read_from_the_command_line_are_its_defaults(tmp_path):
    # pytorch/examples' DCGAN sizes its layers from parse_args(): nz = int(opt.nz)
    report = run_model(tmp_path, """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument('--hidden-size', type=int, default=3)
        parser.add_argument('--use-bias', action='store_true')
        opt = parser.parse_args()
        hidden = int(opt.hidden_size)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, hidden, bias=opt.use_bias)
                self.head = nn.Linear(hidden, 1)

            def forward(self, x):
                return self.head(torch.tanh(self.fc(x)))
        """, "Net")
    assert report.error is None, report.error
    assert report.wrt == ["fc.weight", "head.weight", "head.bias"]
    assert report.differentiable is True


def test_cut_points_at_the_line_of_the_detach(tmp_path):
    report = run_model(tmp_path, MODELS[2].values[0], "DetachedHead")
    (cut,) = [f for f in report.findings if f.cut]
    assert cut.code == "DC402" and cut.severity == "error"
    assert cut.line == 13 and "detach" in cut.excerpt


def test_wrt_selects_parameters_by_module_prefix(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent(MODELS[0].values[0]))
    (job,) = source_jobs(str(path), path.read_text(), "MLP")
    from diffcheck.api import check_source_job

    assert check_source_job(job, ["fc2"]).wrt == ["fc2.weight", "fc2.bias"]
    assert check_source_job(job, ["params"]).wrt == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                     "fc2.bias"]


def test_composition_names_both_verdicts_and_the_chain_rule(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(HEADER + textwrap.dedent(MODELS[1].values[0]))
    losses = tmp_path / "losses.py"
    losses.write_text(HEADER + "def mae_loss(pred, target):\n    return (pred - target).abs().mean()\n")
    (job,) = source_jobs(str(model), model.read_text(), "SmoothMLP")
    report = check_composition(job, f"{losses}::mae_loss")
    assert report.name == "mae_loss(SmoothMLP)"
    assert report.composition["model"]["differentiable"] is True
    assert report.composition["loss"]["differentiable"] is False
    assert report.differentiable is False
    assert any(f.kind == "kink" for f in report.findings)
    expression = check_composition(job, "(out - y)**2")
    assert expression.differentiable is True and expression.composition["loss"]["name"] == "loss"

    result = CliRunner().invoke(app, ["--no-color", str(model) + "::SmoothMLP", "--loss",
                                      f"{losses}::mae_loss"])
    assert "chain rule" in result.stdout and result.exit_code == 1


def test_loss_option_without_a_model_is_a_usage_error():
    result = CliRunner().invoke(app, ["abs(x)", "--loss", "(out - y)**2"])
    assert result.exit_code == 2


def test_model_json_has_cut_and_ste_fields(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent(MODELS[4].values[0]))
    result = CliRunner().invoke(app, ["--format", "json", f"{path}::QuantLinear"])
    (entry,) = json.loads(result.stdout)["results"]
    assert any(f.get("ste") is True and f["kind"] == "jump" for f in entry["findings"])
    assert not any(f["kind"] == "zero-gradient" for f in entry["findings"])


def test_torch_nn_transformer_layers_are_read_with_their_relu_at_the_users_call(tmp_path):
    # nn.TransformerEncoderLayer's feed-forward uses ReLU by default: read from a restatement
    # of torch.nn's forward, its parameters named as PyTorch names them, its kink reported at
    # the line that calls the encoder (not inside the reader's own source)
    report = run_model(tmp_path, """
        class Encoder(nn.Module):
            def __init__(self, d_model=8, activation="relu"):
                super().__init__()
                layer = nn.TransformerEncoderLayer(d_model, 2, 16, activation=activation,
                                                   batch_first=True)
                self.encoder = nn.TransformerEncoder(layer, 1)

            def forward(self, x):
                return self.encoder(x)
        """, "Encoder")
    assert report.error is None and report.differentiable is False
    assert "encoder.layers.0.linear1.weight" in report.wrt
    assert {f.kind for f in report.findings} == {"kink"}
    assert {f.line for f in report.findings} == {14}


def test_a_classifier_ending_in_softmax_keeps_its_relu_kink(tmp_path):
    # the softmax's outputs sum to 1: summed into one number they hide everything before them;
    # a model's outputs are weighed apart, as a loss downstream weighs them
    report = run_model(tmp_path, """
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 3)

            def forward(self, x):
                return F.softmax(self.fc2(F.relu(self.fc1(x))), dim=1)
        """, "Classifier")
    assert report.error is None and report.differentiable is False
    assert {f.kind for f in report.findings} == {"kink"}
