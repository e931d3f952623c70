"""The Python-source reader: constructs of real loss code, translated without running anything.

Each case is a small source file and what it must mean: the SymPy expression it lowers to must
equal the hand-written formula at random points (so the test fails when any construct is
translated wrongly), and the analysis must give the expected verdict.
"""

from __future__ import annotations

import json
import random
import re
import textwrap
from pathlib import Path

import pytest
import sympy as sp
from typer.testing import CliRunner

from diffcheck.api import check_source, source_jobs
from diffcheck.cli import app
from diffcheck.readers.pysource import find_losses, read_module, translate
from diffcheck.readers.pysource.values import SourceError

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"


def lowered(source: str, name: str | None = None, values: dict | None = None):
    text = HEADER + textwrap.dedent(source)
    module = read_module(text)
    (target,) = find_losses(module, text, name) if name else find_losses(module, text)[:1]
    return translate(module, text, target, values or {})


def translation_error(text: str) -> SourceError:
    """The error translating the first loss of ``text`` raises (the test fails if none)."""
    module = read_module(text)
    with pytest.raises(SourceError) as caught:
        translate(module, text, find_losses(module, text)[0], {})
    return caught.value


def same_function(expr: sp.Expr, expected: str, samples: int = 12) -> bool:
    """Whether ``expr`` equals ``expected`` (SymPy text over the same symbol names) at random points."""
    # Component names such as pred[..., 1] are not SymPy syntax: alias them first.
    aliases = {}
    for index, name in enumerate(sorted((str(s) for s in expr.free_symbols), key=len, reverse=True)):
        alias = f"v{index}_"
        aliases[name] = alias
        pattern = r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_\[])"
        expected = re.sub(pattern, alias, expected)
    expr = expr.xreplace({s: sp.Symbol(aliases[str(s)], real=True) for s in expr.free_symbols})
    wanted = sp.sympify(expected, locals={a: sp.Symbol(a, real=True) for a in aliases.values()})
    rng = random.Random(3)
    names = sorted(str(s) for s in expr.free_symbols | wanted.free_symbols)
    for _ in range(samples):
        point = {sp.Symbol(n, real=True): sp.Rational(rng.randint(-40, 40), 7) for n in names}
        a = complex(expr.xreplace(point).evalf(30))
        b = complex(wanted.xreplace(point).evalf(30))
        if abs(a - b) > 1e-12 * (1 + abs(a)):
            return False
    return True


# (source, expected formula over the symbol names diffcheck gives, tensor params, default wrt)
CONSTRUCTS = [
    pytest.param("""
        def l1_loss(pred, target):
            return (pred - target).abs().mean()
        """, "Abs(pred - target)", ["pred", "target"], id="method-chain-and-batch-mean"),
    pytest.param("""
        def loss(pred, target, reduction: str = "mean", beta: float = 0.5):
            diff = torch.abs(pred - target)
            loss = torch.where(diff < beta, 0.5 * diff ** 2 / beta, diff - 0.5 * beta)
            if reduction == "mean":
                return loss.mean()
            elif reduction == "sum":
                return loss.sum()
            raise ValueError(reduction)
        """, "Piecewise((Abs(pred - target)**2, Abs(pred - target) < 1/2),"
             " (Abs(pred - target) - 1/4, True))", ["pred", "target"], id="hyperparameter-if"),
    pytest.param("""
        def iou_loss(pred, target):
            p1, p2 = pred.unbind(-1)
            t1, t2 = target.unbind(dim=-1)
            inter = (torch.min(p2, t2) - torch.max(p1, t1)).clamp(min=0)
            return 1 - inter
        """, "1 - Max(0, Min(pred[..., 1], target[..., 1]) - Max(pred[..., 0], target[..., 0]))",
        ["pred", "target"], id="unbind-tuple-unpacking"),
    pytest.param("""
        def box_loss(a, b):
            w = a[:, 2] - a[:, 0]
            return (w - (b[:, 2] - b[:, 0])) ** 2
        """, "(a[:, 2] - a[:, 0] - b[:, 2] + b[:, 0])**2", ["a", "b"], id="component-indexing"),
    pytest.param("""
        def masked_loss(pred, target, valid):
            diff = pred - target
            diff[~valid] = 0
            return (diff ** 2).sum() / valid.sum().clamp(min=1)
        """, "Piecewise((0, Eq(valid, 0)), ((pred - target)**2, True))/Max(1, valid)",
        ["pred", "target"], id="masked-assignment"),
    pytest.param("""
        def hinge_loss(x, y):
            m = 1 - x * y
            m.clamp_(min=0)
            m *= 2
            return m.mean()
        """, "2*Max(0, 1 - x*y)", ["x", "y"], id="in-place-and-augmented"),
    pytest.param("""
        def np_hinge_loss(x, y):
            losses = 1 - x * y
            np.clip(losses, 0, None, out=losses)
            return np.average(losses)
        """, "Max(0, 1 - x*y)", ["x", "y"], id="numpy-out-argument-writes-in-place"),
    pytest.param("""
        def _inter(a, b):
            return torch.minimum(a, b)

        def composed_loss(a, b, scale: float = 3.0):
            helper = lambda t: t * scale
            return helper(_inter(a, b))
        """, "3*Min(a, b)", ["a", "b"], id="helpers-and-lambda-inlined"),
    pytest.param("""
        def ce_loss(logits, labels, label_smoothing: float = 0.0):
            return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        """, "-logits[0] + log(exp(logits[0]) + exp(logits[1]) + exp(logits[2]))", ["logits"],
        id="cross-entropy-labels-are-data"),
    pytest.param("""
        def nll_loss(logits, target):
            logp = F.log_softmax(logits, dim=1)
            return -logp.gather(1, target.unsqueeze(1)).squeeze(1).mean()
        """, "-logits[0] + log(exp(logits[0]) + exp(logits[1]) + exp(logits[2]))", ["logits"],
        id="log-softmax-gather"),
    pytest.param("""
        def triplet_loss(a, p, n, margin: float = 1.0):
            d_ap = (a - p).pow(2).sum(1).sqrt()
            d_an = torch.norm(a - n, dim=1)
            return F.relu(d_ap - d_an + margin).mean()
        """, "Max(0, sqrt((a[0]-p[0])**2 + (a[1]-p[1])**2 + (a[2]-p[2])**2)"
             " - sqrt((a[0]-n[0])**2 + (a[1]-n[1])**2 + (a[2]-n[2])**2) + 1)", ["a", "n", "p"],
        id="norms-over-a-dim"),
    pytest.param("""
        def normalized_loss(x, y):
            x = x / x.norm(dim=1, keepdim=True)
            return (x * y).sum(dim=1).mean()
        """, "(x[0]*y[0] + x[1]*y[1] + x[2]*y[2])/sqrt(x[0]**2 + x[1]**2 + x[2]**2)", ["x", "y"],
        id="keepdim-broadcasts-over-components"),
    pytest.param("""
        def top_loss(scores):
            values, _ = scores.topk(1, dim=1)
            return values.mean()
        """, "Max(scores[0], scores[1], scores[2])", ["scores"], id="topk"),
    pytest.param("""
        def hardest_sample_loss(pred, target):
            per_sample = ((pred - target) ** 2).sum(dim=1)
            hard, _ = per_sample.topk(1)
            return hard.mean()
        """, "Max((pred[0]@0 - target[0]@0)**2 + (pred[1]@0 - target[1]@0)**2"
             " + (pred[2]@0 - target[2]@0)**2, (pred[0]@1 - target[0]@1)**2"
             " + (pred[1]@1 - target[1]@1)**2 + (pred[2]@1 - target[2]@1)**2)", ["pred", "target"],
        id="topk-of-per-sample-losses-ranks-distinct-samples"),
    pytest.param("""
        def consistency_loss(output):
            clean, augmented = torch.split(output, 1)
            return ((clean - augmented) ** 2).mean()
        """, "(output@0 - output@1)**2", ["output"], id="split-of-the-batch-is-other-samples"),
    pytest.param("""
        def mixture_loss(output):
            a, b = output.chunk(2)
            probs = [F.softmax(x, dim=1) for x in (a, b)]
            return torch.stack(probs).mean(axis=0).max(dim=1)[0].mean()
        """, "Max(exp(output[0]@0)/(2*(exp(output[0]@0) + exp(output[1]@0) + exp(output[2]@0)))"
             " + exp(output[0]@1)/(2*(exp(output[0]@1) + exp(output[1]@1) + exp(output[2]@1))),"
             " exp(output[1]@0)/(2*(exp(output[0]@0) + exp(output[1]@0) + exp(output[2]@0)))"
             " + exp(output[1]@1)/(2*(exp(output[0]@1) + exp(output[1]@1) + exp(output[2]@1))),"
             " exp(output[2]@0)/(2*(exp(output[0]@0) + exp(output[1]@0) + exp(output[2]@0)))"
             " + exp(output[2]@1)/(2*(exp(output[0]@1) + exp(output[1]@1) + exp(output[2]@1))))",
        ["output"], id="mean-over-a-stack-of-samples-is-per-component"),
    pytest.param("""
        def sum_loss(pred, target):
            total = 0
            for w, t in zip([1.0, 2.0], [pred, target]):
                total = total + w * t
            return total
        """, "pred + 2*target", ["pred", "target"], id="loop-over-zip-unrolled"),
    pytest.param("""
        def branch_loss(x):
            if x > 0:
                return x ** 2
            return -x
        """, "Piecewise((x**2, x > 0), (-x, True))", ["x"], id="tensor-if-with-early-return"),
    pytest.param("""
        class MarginLoss(nn.Module):
            def __init__(self, margin: float = 0.5, reduction="mean"):
                super().__init__()
                self.margin = margin
                self.reduction = reduction

            def forward(self, x, y):
                loss = self._hinge(x * y)
                return loss.mean() if self.reduction == "mean" else loss.sum()

            def _hinge(self, z):
                return torch.clamp(self.margin - z, min=0)
        """, "Max(0, 1/2 - x*y)", ["x", "y"], id="class-with-helper-method"),
    pytest.param("""
        class Base(nn.Module):
            def __init__(self, eps=1e-3):
                super().__init__()
                self.eps = eps

        class CharbonnierLoss(Base):
            def forward(self, x, y):
                return torch.sqrt((x - y) ** 2 + self.eps ** 2).mean()
        """, "sqrt((x - y)**2 + 1/1000000)", ["x", "y"], id="class-hierarchy"),
    pytest.param("""
        import functools

        def _scaled(x, y, k=1.0):
            return k * (x - y) ** 2

        def partial_loss(x, y):
            f = functools.partial(_scaled, k=4.0)
            return f(x, y)
        """, "4*(x - y)**2", ["x", "y"], id="functools-partial"),
    pytest.param("""
        def detached_loss(x, y):
            with torch.no_grad():
                scale = y.abs() + 1
            return ((x - y.detach()) / scale) ** 2
        """, "(x - y)**2/(Abs(y) + 1)**2", ["x", "y"], id="detach-keeps-the-value"),
    pytest.param("""
        def keyword_loss(pred, target):
            return F.smooth_l1_loss(input=pred, target=target, beta=1.0) + torch.clamp(input=pred, min=0)
        """, "(" + " + ".join(  # the batch mean meets pred itself: written over rows of the batch
            f"Piecewise(((pred{r} - target{r})**2/2, Abs(pred{r} - target{r}) < 1),"
            f" (Abs(pred{r} - target{r}) - 1/2, True))" for r in ("", "@1", "@2"))
        + ")/3 + Max(0, pred)", ["pred", "target"], id="first-arguments-by-keyword"),
    pytest.param("""
        import jax.numpy as jnp
        _dot_last_dim = jnp.vectorize(jnp.dot, signature='(n),(n)->()')

        def dot_loss(x, w):
            return (_dot_last_dim(x, w) - 1.0) ** 2
        """, "(x[0]*w[0] + x[1]*w[1] + x[2]*w[2] - 1)**2", ["x", "w"], id="jnp-vectorize-of-dot"),
    pytest.param("""
        import jax.numpy as jnp

        def perceptron_loss(scores, w):
            return jnp.max(scores, axis=-1) - jnp.sum(scores * w, axis=-1)
        """, "Max(scores[0], scores[1], scores[2]) - scores[0]*w[0] - scores[1]*w[1] - scores[2]*w[2]",
        ["scores", "w"], id="jnp-max-along-an-axis-is-the-values"),
    pytest.param("""
        import functools

        def weighted(loss_func):
            @functools.wraps(loss_func)
            def wrapper(pred, target, weight=None, reduction="mean"):
                loss = loss_func(pred, target)
                if weight is not None:
                    loss = loss * weight
                return loss.mean() if reduction == "mean" else 3 * loss.sum()
            return wrapper

        @weighted
        @torch.jit.ignore
        def l1(pred, target):
            return (pred - target).abs()

        def decorated_loss(pred, target):
            return 2 * l1(pred, target, None, reduction="sum")
        """, "6*Abs(pred - target)", ["pred", "target"], id="decorator-of-the-file-is-applied"),
    pytest.param("""
        class KeypointLoss(nn.Module):
            def __init__(self, sigmas: torch.Tensor) -> None:
                super().__init__()
                self.sigmas = sigmas

            def forward(self, pred, gt):
                return ((pred - gt) / self.sigmas) ** 2
        """, "(pred - gt)**2/sigmas**2", ["pred", "gt", "sigmas"], id="tensor-argument-of-init"),
    pytest.param("""
        def rle_loss(sigma, error, target_weight: torch.Tensor = None, use_weight: bool = True):
            loss = torch.log(sigma) + torch.abs(error)
            if use_weight:
                assert target_weight is not None, "give target_weight"
                loss *= target_weight
            return loss.sum()
        """, "target_weight*(log(sigma) + Abs(error))", ["sigma", "error", "target_weight"],
        id="assert-not-none-makes-an-optional-tensor-given"),
    pytest.param("""
        def quality_focal_loss(pred, target):
            label, score = target
            loss = pred ** 2
            pos = (label >= 0).nonzero().squeeze(1)
            pos_label = label[pos].long()
            loss[pos, pos_label] = (pred[pos, pos_label] - score[pos]) ** 2
            return loss.sum(dim=1)
        """, "(pred[0] - target[1])**2 + pred[1]**2 + pred[2]**2", ["pred", "target"],
        id="nonzero-positions-and-labels-from-a-tuple-target"),
    pytest.param("""
        def moco_loss(q, k, queue):
            positives = (q * k).sum(dim=1, keepdim=True)
            negatives = q @ queue
            logits = torch.cat([positives, negatives], dim=1)
            labels = torch.zeros(logits.shape[0], dtype=torch.long)
            return F.cross_entropy(logits, labels)
        """, "-(q[0]*k[0] + q[1]*k[1] + q[2]*k[2]) + log(exp(q[0]*k[0] + q[1]*k[1] + q[2]*k[2])"
             " + exp(q[0]*queue[0] + q[1]*queue[1] + q[2]*queue[2]))", ["q", "k", "queue"],
        id="cross-entropy-with-constant-class-indices"),
    pytest.param("""
        import jax.numpy as jnp

        def stable_loss(x):
            eps = jnp.finfo(x.dtype).eps
            floor = jnp.full_like(x, -jnp.inf) - x
            return jnp.sqrt(x ** 2 + eps) + jnp.exp(floor) + torch.finfo(torch.float64).eps
        """, "sqrt(x**2 + 2**-23) + 2**-52", ["x"], id="finfo-limits-and-a-minus-inf-fill"),
    pytest.param("""
        import torch.linalg as LA

        def soft_overlap_loss(pred, target):
            spatial = list(range(2, len(pred.shape)))
            difference = LA.vector_norm(pred - target, ord=1, dim=spatial)
            return (LA.vector_norm(pred, ord=1, dim=spatial) - difference).mean()
        """, "Abs(pred) - Abs(pred - target)", ["pred", "target"], id="l1-norm-over-spatial-axes"),
    pytest.param("""
        class WrappedLoss(nn.Module):
            def __init__(self, loss_fcn=nn.BCEWithLogitsLoss()):
                super().__init__()
                self.loss_fcn = loss_fcn
                self.reduction = loss_fcn.reduction
                self.loss_fcn.reduction = "none"

            def forward(self, pred, true):
                loss = self.loss_fcn(pred, true) * pred ** 2
                return loss.mean() if self.reduction == "mean" else loss
        """, "pred**2*(-true*log(1/(1 + exp(-pred))) - (1 - true)*log(1 - 1/(1 + exp(-pred))))",
        ["pred", "true"], id="reduction-of-a-wrapped-loss-module-read-then-set"),
    pytest.param("""
        import jax.numpy as jnp
        import optax
        from flax.training import common_utils

        def ce_loss(logits, labels):
            one_hot = common_utils.onehot(labels, num_classes=3)
            return jnp.mean(optax.softmax_cross_entropy(logits=logits, labels=one_hot))
        """, "-logits[0] + log(exp(logits[0]) + exp(logits[1]) + exp(logits[2]))", ["logits"],
        id="optax-loss-by-keywords-of-flax-one-hot-labels"),
    pytest.param("""
        import optax

        def margin_loss(scores, targets):
            return optax.hinge_loss(predictor_outputs=scores, targets=targets).mean()
        """, "Max(0, 1 - scores*targets)", ["scores", "targets"], id="optax-hinge-by-keywords"),
    pytest.param("""
        import jax
        import jax.numpy as jnp

        def decayed_loss(pred, params):
            l2 = 0.5 * sum(jnp.sum(jnp.square(p)) for p in jax.tree_util.tree_leaves(params))
            return jnp.mean(pred ** 2) + l2
        """, "pred**2 + params**2/2", ["pred", "params"], id="leaves-of-a-parameter-tree"),
    pytest.param("""
        class ScaledLoss(nn.Module):
            def __init__(self, features: int = 3):
                super().__init__()
                self.weight = nn.Parameter(torch.FloatTensor(features))
                nn.init.xavier_uniform_(self.weight)

            def forward(self, x):
                y = x * self.weight
                torch.exp_(y)
                return y.sum()
        """, "exp(weight*x)", ["x", "weight"], id="in-place-library-functions-init-and-exp"),
    pytest.param("""
        def triplet_loss(a, p, n):
            return F.triplet_margin_with_distance_loss(
                a, p, n, distance_function=lambda u, v: (u - v) ** 2, margin=0.5)
        """, "Max(0, (a - p)**2 - (a - n)**2 + 1/2)", ["a", "p", "n"],
        id="triplet-loss-with-the-users-distance-function"),
    pytest.param("""
        def gelu_loss(x):
            return F.gelu(x, approximate="tanh").sum()
        """, "x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3)))/2", ["x"], id="gelu-tanh-option"),
    pytest.param("""
        def wrap_loss(x, y):
            return (torch.fmod(x, 1.5) + torch.remainder(y, 2.0) + torch.floor_divide(x, 3)).sum()
        """, "x - 3*sign(x)*floor(2*Abs(x)/3)/2 + Mod(y, 2) + floor(x/3)", ["x", "y"],
        id="fmod-remainder-floor-divide"),
    pytest.param("""
        def entropy_loss(p, q):
            return torch.special.entr(p).sum() + torch.lerp(p, q, 0.25)
        """, "3*p/4 + q/4 - Piecewise((0, Eq(p, 0)), (p*log(p), True))"
             " - Piecewise((0, Eq(p@1, 0)), (p@1*log(p@1), True))"
             " - Piecewise((0, Eq(p@2, 0)), (p@2*log(p@2), True))", ["p", "q"],
        id="entr-and-lerp"),
    pytest.param("""
        import jax.numpy as jnp
        import numpy as np
        from flax import linen
        from flax.training import common_utils

        def smoothed_loss(logits, targets):
            soft = common_utils.onehot(targets, 3, on_value=0.9, off_value=0.05)
            loss = -jnp.sum(soft * linen.log_softmax(logits), axis=-1)
            return loss.sum() / np.prod(targets.shape)
        """, "(-(9*logits[0] + logits[1]/2 + logits[2]/2)/10"
             " + log(exp(logits[0]) + exp(logits[1]) + exp(logits[2])))/3", ["logits"],
        id="soft-one-hot-flax-linen-and-a-count-from-a-shape"),
    pytest.param("""
        from torch.distributions import Laplace

        def laplace_nll_loss(mu, b, y):
            return -Laplace(mu, b).log_prob(y).mean()
        """, "log(2*b) + Abs(y - mu)/b", ["mu", "b", "y"], id="laplace-log-prob"),
    pytest.param("""
        import torch.distributions as D

        def vae_kl_loss(mu, sigma):
            posterior = D.Normal(loc=mu, scale=sigma)
            return D.kl_divergence(posterior, D.Normal(0.0, 1.0)).sum() - posterior.entropy()
        """, "mu**2/2 + mu@1**2/2 + mu@2**2/2 + sigma**2/2 + sigma@1**2/2 + sigma@2**2/2"
             " + log(1/sigma) - log(sigma) + log(1/sigma@1) + log(1/sigma@2) - 2 - log(2*pi)/2",
        ["mu", "sigma"], id="normal-kl-divergence-and-entropy"),
    pytest.param("""
        import optax

        def optax_mix_loss(s, t, lp, lt):
            return (optax.perceptron_loss(s, t) + optax.kl_divergence_with_log_targets(lp, lt)
                    + optax.convex_kl_divergence(lp, lt))
        """, "Max(0, -s*t) + exp(lt)*(lt - lp) + Piecewise((0, Eq(lt, 0)), (lt*log(lt), True))"
             " - lt*lp + exp(lp) - lt", ["s", "t", "lp", "lt"], id="optax-perceptron-and-kl-variants"),
    pytest.param("""
        import optax

        def optax_metric_loss(a, p, n, z, y):
            return optax.triplet_margin_loss(a, p, n, margin=0.5, eps=0) + optax.sigmoid_focal_loss(z, y)
        """, "Max(0, sqrt((a[0] - p[0])**2 + (a[1] - p[1])**2 + (a[2] - p[2])**2)"
             " - sqrt((a[0] - n[0])**2 + (a[1] - n[1])**2 + (a[2] - n[2])**2) + 1/2)"
             " + (y*log(1 + exp(-z)) + (1 - y)*log(1 + exp(z)))*(1 - y/(1 + exp(-z)) - (1 - y)*(1 - 1/(1 + exp(-z))))**2",
        ["a", "p", "n", "z", "y"], id="optax-triplet-and-sigmoid-focal"),
    pytest.param("""
        def rounding_loss(x, y):
            return torch.frac(x) + torch.trunc(y) + torch.sgn(x) + torch.signbit(y).float() + torch.copysign(x, y)
        """, "x - sign(x)*floor(Abs(x)) + sign(y)*floor(Abs(y)) + sign(x) + Piecewise((1, y < 0), (0, True))"
             " + Piecewise((-Abs(x), y < 0), (Abs(x), True))", ["x", "y"],
        id="trunc-frac-sgn-signbit-copysign"),
    pytest.param("""
        def activation_loss(x, w):
            return (F.prelu(x, w) + F.rrelu(x) + torch.logit(x, eps=0.25) + torch.exp2(x)).sum()
        """, "Max(0, x) - w*Max(0, -x) + Piecewise((x, x > 0), (11*x/48, True))"
             " + log(Min(3/4, Max(1/4, x))/(1 - Min(3/4, Max(1/4, x)))) + 2**x", ["x", "w"],
        id="prelu-rrelu-logit-with-eps-exp2"),
    pytest.param("""
        def soft_loss(x):
            return F.softmin(x, dim=-1)[..., 0] + torch.nanmedian(x)
        """, "exp(-x[0])/(exp(-x[0]) + exp(-x[1]) + exp(-x[2]))"
             " + Min(Max(x[0], x[1]), Max(x[0], x[2]), Max(x[1], x[2]))", ["x"],
        id="softmin-and-nanmedian"),
    pytest.param("""
        import jax.numpy as jnp

        def stats_loss(x, y):
            return jnp.rint(y) + jnp.fabs(y) + jnp.ptp(x) + jnp.percentile(x, 50.0) + jnp.nanmax(x)
        """, "floor(y + 1/2) + Abs(y)"
             " + 2*Max(x[0], x[0]@1, x[0]@2, x[1], x[1]@1, x[1]@2, x[2], x[2]@1, x[2]@2)"
             " - Min(x[0], x[0]@1, x[0]@2, x[1], x[1]@1, x[1]@2, x[2], x[2]@1, x[2]@2)"
             " + Min(Max(x[0], x[1]), Max(x[0], x[2]), Max(x[1], x[2]))", ["x", "y"],
        id="numpy-rint-fabs-ptp-percentile-nanmax"),
    pytest.param("""
        import jax
        import jax.numpy as jnp

        def lax_loss(x, y):
            z = jax.lax.select(x > 0, x, -x) + jax.lax.max(y, 0.0) + jax.lax.integer_pow(y, 3)
            return z + jax.nn.sparse_plus(x) + jax.scipy.special.rel_entr(y, 2.0)
        """, "Abs(x) + Max(0, y) + y**3 + Piecewise((0, x <= -1), ((x + 1)**2/4, x <= 1), (x, True))"
             " + Piecewise((0, Eq(y, 0)), (y*log(y/2), True))", ["x", "y"],
        id="lax-select-max-integer-pow-sparse-plus-rel-entr"),
    # noise is data of its own (no gradient flows into a sample), not a function of the tensor
    # whose shape it copies: mu + eps * std keeps the gradient of mu and std
    pytest.param("""
        def reparameterised_loss(mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            keep = mu.new_empty(mu.shape).bernoulli_(0.9)  # timm's drop_path
            return (mu + eps * std).abs() + torch.rand(3) * mu * keep
        """, "Abs(mu + randn_like_8*exp(logvar/2)) + rand_10*mu*bernoulli_9", ["mu", "logvar"],
        id="random-samples-are-data"),
    # label smoothing written in place (fill_, scatter_ under no_grad); the legacy Variable
    # wrapper is the tensor itself
    pytest.param("""
        def smoothed_loss(pred, target):
            pred = torch.autograd.Variable(pred).log_softmax(dim=-1)
            with torch.no_grad():
                true_dist = torch.zeros_like(pred)
                true_dist.fill_(0.1 / 4)
                true_dist.scatter_(1, target.data.unsqueeze(1), 0.9)
            return torch.mean(torch.sum(-true_dist * pred, dim=-1))
        """, "-9*pred[0]/10 - pred[1]/40 - pred[2]/40"
             " + 19*log(exp(pred[0]) + exp(pred[1]) + exp(pred[2]))/20", ["pred"],
        id="fill-in-place-and-variable"),
]


@pytest.mark.parametrize("source, expected, wrt", CONSTRUCTS)
def test_construct_translates_to_the_formula(source, expected, wrt):
    loss = lowered(source)
    assert same_function(loss.parsed.expr, expected), str(loss.parsed.expr)
    assert sorted(loss.wrt) == sorted(wrt)


def test_sum_of_the_top_k_is_one_extremum_of_subset_sums():
    # OHEM: the top k of n written rank by rank nests a max of mins per rank (SymPy then
    # spends minutes on it); their sum is the total less the smallest of the rest
    loss = lowered("""
        def ohem_loss(scores):
            hard, _ = scores.topk(2, dim=1)
            return hard.sum()
        """)
    expr = loss.parsed.expr
    assert same_function(expr, "scores[0] + scores[1] + scores[2] - Min(scores[0], scores[1], scores[2])")
    assert len(expr.atoms(sp.Min)) + len(expr.atoms(sp.Max)) == 1, str(expr)


def test_super_method_of_a_library_base_is_an_unknown_function():
    # lightly's NTXentLoss: super(Cls, self).forward(...) of a base class it imports, called
    # in the forward being translated; its two results are unknown functions of its argument
    loss = lowered("""
        from lightly.loss.memory_bank import MemoryBankModule

        class BankLoss(MemoryBankModule):
            def __init__(self, size: int = 0):
                super().__init__(size=size)

            def forward(self, out0, out1):
                out1, negatives = super(BankLoss, self).forward(out1, update=True)
                return (out0 - out1) ** 2
        """)
    assert str(loss.parsed.expr) == "(out0 - Forward(out1))**2"
    (assumption,) = loss.translation.assumptions
    assert "MemoryBankModule.forward" in assumption and "line 13" in assumption


def test_set_overrides_a_default_and_is_reported_as_used():
    loss = lowered("""
        def huber_loss(r, delta: float = 1.0):
            return F.huber_loss(r, torch.zeros_like(r), delta=delta)
        """, values={"delta": 0.25})
    assert loss.translation.fixed == {"delta": 0.25}
    assert same_function(loss.parsed.expr,
                         "Piecewise((r**2/2, Abs(r) <= 1/4), (Abs(r)/4 - 1/32, True))")


def test_unknown_external_call_is_an_assumption_with_its_line():
    loss = lowered("""
        from mylib import box_iou

        def iou_loss(a, b):
            return 1 - box_iou(a, b)
        """)
    assert loss.parsed.model_functions == ("Box_iou",)
    (assumption,) = loss.translation.assumptions
    assert "box_iou" in assumption and "line 9" in assumption


def _spelled(expected: str, names: dict[str, str]) -> str:
    """``expected`` with its placeholders (``A``, ``D01``) replaced by the formulas of ``names``."""
    return re.sub("|".join(sorted(names, key=len, reverse=True)), lambda m: names[m.group(0)],
                  expected)


def _pair_distance(i: int, j: int, left: str = "a", right: str = "b", features: int = 3) -> str:
    """The squared distance of row ``i`` of ``left`` and row ``j`` of ``right``, by hand."""
    return "(" + " + ".join(f"({left}[{c}]@{i} - {right}[{c}]@{j})**2"
                            for c in range(features)) + ")"


@pytest.mark.parametrize("pairs", ["a[:, None] - b[None]", "a.unsqueeze(1) - b.unsqueeze(0)",
                                   "a[:, None, :] - b[None, :, :]", "a[:, None] - b",
                                   "a.unsqueeze(-2) - b.unsqueeze(-3)"])
def test_pairs_of_rows_reduce_over_each_pair_axis(pairs):
    # a Chamfer distance: min over the right rows for each left row, max over the left rows
    # for each right row; two rows each way, cells reduced over the feature axis first
    loss = lowered(f"""
        def chamfer_loss(a, b):
            d = (({pairs}) ** 2).sum(-1)
            return d.min(dim=1).values.sum() + d.amax(0).mean()
        """)
    near = " + ".join(f"Min({_pair_distance(i, 0)}, {_pair_distance(i, 1)})" for i in range(2))
    far = " + ".join(f"Max({_pair_distance(0, j)}, {_pair_distance(1, j)})" for j in range(2))
    assert same_function(loss.parsed.expr, f"{near} + ({far})/2"), str(loss.parsed.expr)


def test_pairs_of_rows_after_a_leading_batch_axis():
    # point clouds (B, N, 3): the pair axes are 1 and 2, the batch axis 0 is any element
    loss = lowered("""
        def batched_chamfer_loss(a, b):
            d = torch.sum((a.unsqueeze(2) - b.unsqueeze(1)) ** 2, dim=-1)
            return torch.min(d, dim=2)[0].mean() + torch.min(d, dim=1)[0].mean()
        """)
    near = " + ".join(f"Min({_pair_distance(i, 0)}, {_pair_distance(i, 1)})" for i in range(2))
    far = " + ".join(f"Min({_pair_distance(0, j)}, {_pair_distance(1, j)})" for j in range(2))
    assert same_function(loss.parsed.expr, f"({near} + {far})/2"), str(loss.parsed.expr)


@pytest.mark.parametrize("masked, expected", [
    ("(d + eye * 1e9).min(dim=1).values.sum()", "Min(10**9, D01) + Min(10**9, D10)"),
    ("d.masked_fill(eye.bool(), float('inf')).amin(1).sum()", "D01 + D10"),
    ("d[~eye.bool()].sum()", "D01 + D10"),
])
def test_eye_masks_the_diagonal_of_pairs_of_a_batch_with_itself(masked, expected):
    # the nearest other row: without the diagonal, the min would be the self-distance 0
    loss = lowered(f"""
        def nearest_other_loss(x):
            d = ((x[:, None] - x[None]) ** 2).sum(-1)
            eye = torch.eye(x.shape[0], device=x.device)
            return {masked}
        """)
    distances = {"D01": _pair_distance(0, 1, "x", "x"), "D10": _pair_distance(1, 0, "x", "x")}
    assert same_function(loss.parsed.expr, _spelled(expected, distances)), str(loss.parsed.expr)


def test_pdist_is_the_distances_of_distinct_rows():
    # i < j only: no self-distance, and a min over pdist ties between two pairs
    loss = lowered("""
        def closest_pair_loss(x):
            return torch.pdist(x).min()
        """)
    pairs = ", ".join(f"sqrt({_pair_distance(i, j, 'x', 'x')})" for i, j in ((0, 1), (0, 2), (1, 2)))
    assert same_function(loss.parsed.expr, f"Min({pairs})"), str(loss.parsed.expr)


def test_a_column_plus_its_transpose_is_pairs_of_rows():
    # |x_i|^2 + |x_j|^2 - 2 x_i.x_j: a keepdim column, its transpose (a row) and x @ x.t()
    loss = lowered("""
        def pairwise_distance_loss(x):
            sq = (x * x).sum(dim=1, keepdim=True)
            d2 = sq + sq.t() - 2 * (x @ x.t())
            return d2.max(dim=1).values.mean()
        """)
    rows = [f"Max({_pair_distance(i, 0, 'x', 'x')}, {_pair_distance(i, 1, 'x', 'x')})"
            for i in range(2)]
    assert same_function(loss.parsed.expr, f"({rows[0]} + {rows[1]})/2"), str(loss.parsed.expr)


@pytest.mark.parametrize("product", [
    "d.addmm_(a, b.t(), beta=1, alpha=-2)",
    "d.addmm_(1, -2, a, b.t())",  # PyTorch's deprecated order (beta, alpha first), in real code
    "d = torch.addmm(2 * d, a, b.T, beta=0.5, alpha=-2.0)",
    "d = d - 2 * torch.mm(a, b.t())",
    "d = d.baddbmm(a, b.transpose(-2, -1), alpha=-2)",
])
def test_a_product_added_to_pairs_of_rows_scores_row_i_against_row_j(product):
    # the expanded distance |a_i|^2 + |b_j|^2 - 2 a_i.b_j: addmm's product is cell (i, j) too
    loss = lowered(f"""
        def expanded_chamfer_loss(a, b):
            d = (a ** 2).sum(1, keepdim=True) + (b ** 2).sum(1, keepdim=True).t()
            {product}
            return d.min(dim=1).values.sum()
        """)
    near = " + ".join(f"Min({_pair_distance(i, 0)}, {_pair_distance(i, 1)})" for i in range(2))
    assert same_function(loss.parsed.expr, near), str(loss.parsed.expr)


@pytest.mark.parametrize("mask", [
    "labels.unsqueeze(1).expand(n, 4).eq(torch.arange(4).long().expand(n, 4))",
    "labels[:, None] == torch.arange(4)[None]",
    "~(labels.view(-1, 1) != torch.arange(4).cuda())",
])
def test_a_one_hot_of_labels_picks_each_rows_class_in_pairs_of_rows(mask):
    # the center loss: squared distances to every class centre (rows of a parameter), kept
    # for each sample's own class (class 0 stands for it, as in one_hot); the others are 0
    loss = lowered(f"""
        class CentreLoss(nn.Module):
            def __init__(self, num_classes=4, feat_dim=3):
                super().__init__()
                self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

            def forward(self, x, labels):
                n = x.size(0)
                d = (x ** 2).sum(1, keepdim=True) + (self.centers ** 2).sum(1, keepdim=True).t()
                d.addmm_(x, self.centers.t(), beta=1, alpha=-2)
                return (d * ({mask}).float()).clamp(min=1e-12, max=1e12).sum()
        """)
    own = " + ".join(f"Min(10**12, Max(10**-12, {_pair_distance(i, 0, 'x', 'centers')}))"
                     for i in range(2))
    # the two cells of other classes are 0, clamped to 1e-12
    assert same_function(loss.parsed.expr, f"{own} + 2 * 10**-12"), str(loss.parsed.expr)


@pytest.mark.parametrize("mask", ["labels[:, None] == torch.arange(3)",
                                  "labels.unsqueeze(1).eq(torch.arange(3).long())"])
def test_labels_compared_with_the_class_indices_are_their_one_hot(mask):
    def read(target: str):
        return lowered(f"""
            def picked_nll_loss(logits, labels):
                return -(logits.log_softmax(1) * ({target}).float()).sum(1).mean()
            """).parsed.expr

    one_hot = read("F.one_hot(labels, 3)")
    assert same_function(read(mask), str(one_hot)), str(read(mask))


@pytest.mark.parametrize("call, column, expected", [
    ("d.addmm_(a, b.t(), beta=scale)", 5, "beta or alpha that are not numbers"),
    ("d = torch.addmm(d, a)", 9, "an input and two matrices"),
])
def test_an_addmm_the_reader_cannot_write_is_refused_at_its_column(call, column, expected):
    text = HEADER + ("def expanded_loss(a, b, scale):\n"
                     "    d = (a ** 2).sum(1, keepdim=True) + (b ** 2).sum(1, keepdim=True).t()\n"
                     f"    {call}\n    return d.sum()\n")
    error = translation_error(text)
    assert error.position() == (7, column)
    assert expected in error.message


def test_pairs_of_a_batch_with_itself_have_a_zero_diagonal():
    # x against itself: cell (i, i) is x@i - x@i = 0; a softmax over the other rows per row
    loss = lowered("""
        def soft_neighbours_loss(x):
            d = ((x.unsqueeze(1) - x.unsqueeze(0)) ** 2).sum(dim=2)
            return torch.logsumexp(-d, dim=1).mean()
        """)
    rows = [f"log(exp(-{_pair_distance(i, 0, 'x', 'x')}) + exp(-{_pair_distance(i, 1, 'x', 'x')}))"
            for i in range(2)]
    assert "x[0]@0" in str(loss.parsed.expr)
    assert same_function(loss.parsed.expr, f"({rows[0]} + {rows[1]})/2"), str(loss.parsed.expr)


@pytest.mark.parametrize("reduce, combine", [
    ("losses.max(dim=0).values", "Max"), ("torch.amin(losses, dim=0)", "Min"),
    ("losses.max(0)[0]", "Max")])
def test_max_over_the_batch_couples_the_samples(reduce, combine):
    # the worst sample's loss: other rows of the batch, not the identity of a mean over it
    loss = lowered(f"""
        def worst_sample_loss(pred, target):
            losses = ((pred - target) ** 2).sum(dim=1)
            return {reduce}
        """)
    rows = ", ".join(_pair_distance(i, i, "pred", "target") for i in range(3))
    assert same_function(loss.parsed.expr, f"{combine}({rows})"), str(loss.parsed.expr)


@pytest.mark.parametrize("order, expected", [
    ("losses.topk(2, dim=0).values.sum()", "Max(A, B, C) + Max(Min(A, B), Min(A, C), Min(B, C))"),
    ("losses.median(dim=0).values", "Max(Min(A, B), Min(A, C), Min(B, C))"),
    ("torch.sort(losses, dim=0, descending=True)[0][..., 0]", "Max(A, B, C)"),
])
def test_order_statistics_over_the_batch_compare_samples(order, expected):
    # along dim=0 the elements compared are rows of the batch (pred@1), not features (pred[1])
    loss = lowered(f"""
        def order_loss(pred, target):
            losses = (pred - target).abs()
            return {order}
        """)
    rows = {name: f"Abs(pred@{i} - target@{i})" for i, name in enumerate("ABC")}
    assert same_function(loss.parsed.expr, _spelled(expected, rows)), str(loss.parsed.expr)


@pytest.mark.parametrize("descending", [True, False])
def test_a_gather_by_a_sort_over_the_batch_is_one_piece_per_ordering(descending):
    # Lovasz-style: values gathered by a sort's permutation go with their own row's key
    # (target@k beside pred@k, not a component target[k]), and the sorted values and the
    # gather read one ordering at a time: one Piecewise whose pieces have no case left
    loss = lowered(f"""
        def ranked_loss(pred, target):
            errors = (pred - target).abs()
            errors_sorted, perm = torch.sort(errors, dim=0, descending={descending})
            weights = target[perm]
            return (errors_sorted * weights.cumsum(0)).sum()
        """)
    expr = loss.parsed.expr
    rows = [(sp.Symbol(f"pred@{i}", real=True), sp.Symbol(f"target@{i}", real=True))
            for i in range(3)]
    assert expr.free_symbols == {s for row in rows for s in row}, expr.free_symbols
    assert isinstance(expr, sp.Piecewise) and len(expr.args) == 6, expr
    assert not any(piece.has(sp.Piecewise) for piece, _ in expr.args), expr
    rng = random.Random(5)
    for _ in range(20):
        point = {s: sp.Rational(rng.randint(-9, 9), 4) for row in rows for s in row}
        errors = [abs(point[p] - point[t]) for p, t in rows]
        # a stable sort: ties keep their index order either way
        order = sorted(range(3), key=lambda i: -errors[i] if descending else errors[i])
        weights = [point[rows[i][1]] for i in order]
        wanted = sum(errors[i] * sum(weights[:k + 1]) for k, i in enumerate(order))
        assert expr.xreplace(point) == wanted, (point, expr.xreplace(point), wanted)


def test_a_generic_tensor_maxed_over_the_batch_keeps_its_features_generic():
    loss = lowered("""
        def worst_error_loss(pred, target):
            return (pred - target).abs().amax(dim=0).mean()
        """)
    rows = ", ".join(f"Abs(pred@{i} - target@{i})" for i in range(3))
    assert same_function(loss.parsed.expr, f"Max({rows})"), str(loss.parsed.expr)


@pytest.mark.parametrize("line, column, expected", [
    ("d.topk(1, dim=1).values.mean()", 12, "on pairs of rows"),
    ("d.sum(dim=(0, 2)).mean()", 12, "dim 2 of pairs of rows of rank 2"),
    ("(a[:, None] - b[None]).max(dim=1).values.mean()", 12, "keep their feature axis"),
])
def test_a_pair_construct_the_grid_does_not_model_is_refused_at_its_column(line, column, expected):
    text = HEADER + ("def knn_loss(a, b):\n    d = ((a[:, None] - b[None]) ** 2).sum(-1)\n"
                     f"    return {line}\n")
    error = translation_error(text)
    assert error.position() == (7, column)
    assert "unsupported" in error.message and expected in error.message


def test_a_while_loop_is_an_unsupported_error_at_its_line():
    text = HEADER + "def bad_loss(x):\n    while x > 0:\n        x = x - 1\n    return x\n"
    error = translation_error(text)
    assert error.position() == (6, 5)
    assert "while" in error.message


def test_a_shape_the_tensor_model_cannot_align_is_an_error_at_its_expression():
    text = HEADER + textwrap.dedent("""
        def mismatched_loss(x, y):
            a = torch.stack([x, y, x], dim=-1)
            b = torch.stack([x, y], dim=-1)
            return (a * 2 + b).sum()
        """)
    error = translation_error(text)
    assert "different sizes" in error.message
    assert error.position() == (9, 13)


def test_an_option_outside_its_literal_choices_is_an_error_at_the_call():
    text = HEADER + "def gelu_loss(x):\n    return F.gelu(x, approximate='cubic').sum()\n"
    error = translation_error(text)
    assert error.position() == (6, 12)
    assert "approximate='cubic' is not one of" in error.message


def test_which_definitions_are_losses():
    text = HEADER + textwrap.dedent("""
        def focal_loss(x): return x
        def helper(x): return x
        def _private_loss(x): return x
        class DiceLoss: pass
        class Model: pass
        # diffcheck: check
        def custom(x): return x
        @diffcheck.loss
        def other(x): return x
        """)
    module = read_module(text)
    assert [t.name for t in find_losses(module, text)] == ["focal_loss", "DiceLoss", "custom", "other"]
    assert [t.name for t in find_losses(module, text, "helper")] == ["helper"]


def test_file_with_one_untranslatable_function_still_reports_the_others(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + textwrap.dedent("""
        def good_loss(x, y):
            return (x - y).abs().mean()

        def bad_loss(x):
            while True:
                x = x + 1
            return x

        def other_loss(x, y):
            return ((x - y) ** 2).mean()
        """))
    reports = check_source(path)
    assert [r.name for r in reports] == ["good_loss", "bad_loss", "other_loss"]
    assert reports[0].differentiable is False and reports[2].differentiable is True
    assert reports[1].error.kind == "unsupported" and reports[1].error.line == 10


def test_syntax_error_is_one_error_result_with_line_and_column(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def loss(x):\n    return (x +\n")
    (report,) = source_jobs(str(path), path.read_text())
    assert report.error.kind == "parse" and report.error.line is not None


def test_reading_a_file_never_imports_or_runs_it(tmp_path):
    canary = tmp_path / "canary_was_imported"
    (tmp_path / "canary_module.py").write_text(f"open({str(canary)!r}, 'w').write('x')\n")
    path = tmp_path / "losses.py"
    path.write_text(textwrap.dedent(f"""
        import canary_module
        from canary_module import something
        open({str(canary)!r}, 'w').write('top level ran')

        def run_loss(x):
            open({str(canary)!r}, 'w').write('body ran')
            __import__('os').system('touch {canary}')
            return x ** 2
        """))
    reports = check_source(path)
    result = CliRunner().invoke(app, ["--format", "json", str(path)])
    assert not canary.exists()
    assert reports and json.loads(result.stdout)["results"]


def test_github_annotation_points_at_the_offending_call(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def mae_loss(pred, target):\n    err = pred - target\n"
                    "    return torch.abs(err).mean()\n")
    result = CliRunner().invoke(app, ["--format", "github", "--wrt", "pred", f"{path}::mae_loss"])
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"::error file={str(path).replace(':', '%3A')},line=7,col=12,")
    assert "DC101" in line


def test_text_report_shows_the_source_line_with_a_caret(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def hinge_loss(s, y):\n    return torch.clamp(1 - s * y, min=0).mean()\n")
    result = CliRunner().invoke(app, ["--no-color", "--wrt", "s", str(path)])
    lines = result.stdout.splitlines()
    caret = next(i for i, ln in enumerate(lines) if ln.strip().startswith("|") and "^" in ln)
    code_line, marks = lines[caret - 1], lines[caret]
    assert "torch.clamp(1 - s * y, min=0)" in code_line
    assert code_line.index("torch.clamp") == marks.index("^")
    assert lines[-1] == "1 loss checked: 0 differentiable, 1 not differentiable"


@pytest.mark.parametrize("hostile", [
    "def loss(x):\n    return " + "(" * 400 + "x" + ")" * 400 + "\n",
    "def loss(x):\n" + "".join("    x = x + x\n" for _ in range(60)) + "    return x\n",
    "def loss(x):\n    return loss(x)\n",
    "def loss(x):\n    for i in range(10**9):\n        x = x + 1\n    return x\n",
    "\x00def loss(x): return x",
])
def test_hostile_sources_end_in_an_error_result_not_a_hang(tmp_path, hostile):
    path = tmp_path / "losses.py"
    path.write_text(hostile)
    result = CliRunner().invoke(app, ["--format", "json", "--timeout", "20", str(path)])
    assert result.exit_code in (0, 1, 2)
    for entry in json.loads(result.stdout)["results"]:
        assert entry["error"] is None or entry["error"]["kind"] in (
            "parse", "unsupported", "limit", "timeout")


def test_scalar_formula_and_source_give_the_same_findings(tmp_path):
    from diffcheck.api import check

    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def pinball_loss(y, f, q: float = 0.3):\n"
                    "    e = y - f\n    return torch.max(q * e, (q - 1) * e).mean()\n")
    (source,) = check_source(path, ["f"])
    scalar = check("max(0.3*(y - f), (0.3 - 1)*(y - f))", ["f"])
    assert (source.differentiable, source.smoothness) == (scalar.differentiable, scalar.smoothness)
    assert [(f.code, f.kind, f.where) for f in source.findings] == \
        [(f.code, f.kind, f.where) for f in scalar.findings]


def test_helpers_imported_from_other_files_of_the_project_are_read_not_run(tmp_path):
    canary = tmp_path / "ran"
    package = tmp_path / "pkg" / "losses"
    package.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(f"open({str(canary)!r}, 'w')\n")
    (package / "utils.py").write_text(textwrap.dedent(f"""
        import torch
        open({str(canary)!r}, 'w')
        EPS = 1e-6

        def soft_hinge(x, margin=1.0):
            return torch.clamp(margin - x, min=0)
        """))
    (package / "constants.py").write_text("BINARY = 'binary'\n")
    main = package / "main.py"
    main.write_text(textwrap.dedent("""
        import torch
        from .utils import soft_hinge, EPS
        from pkg.losses.constants import BINARY

        def hinge_loss(s, y, mode: str = BINARY):
            if mode == "binary":
                return soft_hinge(s * y).mean() + EPS
            raise ValueError(mode)
        """))
    (report,) = check_source(main, ["s"])
    assert not canary.exists()
    assert report.differentiable is False
    (kink,) = [f for f in report.findings if f.kind == "kink"]
    assert kink.path == str(package / "utils.py") and kink.line == 7
    assert "torch.clamp(margin - x, min=0)" in kink.excerpt


def test_a_norm_at_the_zero_vector_is_written_over_whole_tensors(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def dist_loss(anchor, positive):\n"
                    "    return torch.sqrt(((anchor - positive) ** 2).sum(dim=1)).mean()\n")
    (report,) = check_source(path)
    (kink,) = [f for f in report.findings if f.kind == "kink"]
    assert kink.where == "anchor - positive = 0"
    assert kink.message.endswith("has a kink where anchor - positive = 0")


def test_cdist_of_a_tensor_with_itself_compares_different_rows(tmp_path):
    # cdist(x, x)[i, j] is norm(x[i] - x[j]): as the norm of x - x it would be 0, and the
    # cone where two rows coincide and the ties of the nearest row would both vanish
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def nearest_loss(embeddings):\n"
                    "    dist = torch.cdist(embeddings, embeddings, p=2)\n"
                    "    return dist.min(dim=1).values.mean()\n")
    (report,) = check_source(path)
    assert report.error is None and report.differentiable is False
    wheres = {f.where for f in report.findings if f.kind == "kink"}
    assert "embeddings[i] - embeddings[j] = 0" in wheres
    assert any(w.startswith("Abs(") for w in wheres)  # two rows equally near: a tie of min


def test_torch_dist_is_the_norm_of_the_difference_not_pairwise(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def dist_loss(anchor, positive):\n"
                    "    return torch.dist(anchor, positive)\n")
    (report,) = check_source(path)
    (kink,) = [f for f in report.findings if f.kind == "kink"]
    assert kink.where == "anchor - positive = 0"


def test_the_sphere_of_a_clamped_norm_is_found_and_written_as_a_norm(tmp_path):
    # F.normalize divides by max(norm(x), eps): a kink on the sphere norm(x) = eps, which no
    # generic value of the other components reaches (it is solved along rays)
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def unit_loss(pred, target):\n"
                    "    return (F.normalize(pred, dim=-1, eps=1e-6) * target).sum(dim=-1).mean()\n")
    (report,) = check_source(path, wrt=["pred"])
    assert report.differentiable is False
    (kink,) = [f for f in report.findings if f.kind == "kink"]
    assert kink.where == "norm(pred) = 1/1000000"


def test_sets_of_other_rows_that_read_alike_are_reported_once(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + "def push_loss(embeddings):\n"
                    "    return F.relu(1.0 - torch.cdist(embeddings, embeddings)).mean()\n")
    (report,) = check_source(path)
    wheres = [f.where for f in report.findings if f.kind == "kink"]
    assert wheres.count("norm(embeddings[i] - embeddings[j]) = 1") == 1


def test_show_parse_prints_what_each_python_loss_is_read_as(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + textwrap.dedent("""
        def l1_loss(pred, target):
            return (pred - target).abs().mean()

        def broken_loss(pred):
            while True:
                pred = pred + 1
            return pred
        """))
    result = CliRunner().invoke(app, ["--show-parse", str(path)])
    assert result.exit_code == 2  # the untranslatable one is an error; the other is printed
    assert f"{path}::l1_loss: abs(pred - target)" in result.stdout
    assert re.search(rf"{re.escape(str(path))}:10:5: while", result.stderr)


def _batch_statistic_cases() -> list:
    table = json.loads((Path(__file__).parent / "data" / "batch_statistics.json").read_text())
    rows = ["", "@1", "@2"]
    names = {"m": "(x + x@1 + x@2)/3", "my": "(y + y@1 + y@2)/3"}
    for k, row in enumerate(rows):
        names[f"c{k}"] = f"x{row} - {names['m']}"
        names[f"d{k}"] = f"y{row} - {names['my']}"
    return [pytest.param(case["body"], case["formula"].format(**names), id=case["id"])
            for case in table["cases"]]


@pytest.mark.parametrize("body, expected", _batch_statistic_cases())
def test_a_statistic_over_the_batch_met_by_the_samples_is_written_over_rows(body, expected):
    loss = lowered(f"def loss(x, y):\n    {body}\n")
    assert same_function(loss.parsed.expr, expected), str(loss.parsed.expr)


@pytest.mark.parametrize("body", [
    "z = (x - x.mean(0)) / x.std(0)\n    return (z * y).mean()",  # Barlow Twins' standardisation
    "return torch.sqrt(x.var(dim=0) + 0.0001).mean()",  # VICReg's variance term
])
def test_a_standard_deviation_over_the_batch_is_not_smooth_where_the_samples_are_equal(
        tmp_path, body):
    path = tmp_path / "losses.py"
    path.write_text(HEADER + f"def loss(x, y):\n    {body}\n")
    (report,) = check_source(path, ["x"])
    # read as one element, (x - x.mean(0)) was 0 and the loss a smooth constant of y alone
    assert report.error is None and report.wrt == ["x"]
    kinds = {f.kind for f in report.findings}
    if "0.0001" in body:
        assert kinds == set() and report.smoothness == "Cinf"
    else:
        # std = 0 where the rows are all equal: a division by zero, not a kink
        assert kinds and kinds <= {"pole", "domain"}, report.findings
        assert all("x@1" in f.where and "x@2" in f.where for f in report.findings)


def test_batch_norm_with_a_training_flag_not_written_is_refused_at_its_column():
    text = HEADER + "def loss(x, train):\n    return F.batch_norm(x, None, None, training=train)\n"
    error = translation_error(text)
    assert error.position() == (6, 12)
    assert "training flag" in error.message


def test_a_product_contracting_the_batch_axis_is_a_matrix_of_sums_over_rows():
    # Barlow Twins' cross-correlation z1.T @ z2: cell (i, j) sums z1[i] * z2[j] over the batch
    loss = lowered("""
        def cross_correlation_loss(x, y):
            c = x.T @ y
            return (c - 1).pow(2).sum()
        """)
    cells = [f"(x[{i}]*y[{j}] + x[{i}]@1*y[{j}]@1 + x[{i}]@2*y[{j}]@2 - 1)**2"
             for i in range(2) for j in range(2)]
    assert same_function(loss.parsed.expr, " + ".join(cells)), str(loss.parsed.expr)


def test_a_product_contracting_the_batch_axis_with_a_reduced_tensor_is_refused_at_its_column():
    text = HEADER + ("def barlow_twins_loss(z1, z2):\n    z1 = (z1 - z1.mean(0)) / z1.std(0)\n"
                     "    c = z1.T @ z2.sum(1)\n    return (c - 1).pow(2).sum()\n")
    error = translation_error(text)
    assert error.position() == (7, 9)
    assert "contracting the batch axis" in error.message


def test_parts_of_unknown_number_are_taken_whole():
    # torch.cat(x.unbind(-1), -1): every part, their number not written (the default)
    loss = lowered("""
        def parts_loss(x):
            return torch.cat(x.unbind(-1), -1).sum(-1)
        """)
    assert same_function(loss.parsed.expr, "x[..., 0] + x[..., 1] + x[..., 2]"), str(loss.parsed.expr)


@pytest.mark.parametrize("shaped", [".view(-1)", ".view(-1, 1).squeeze(1).to(x.device)", ".long()"])
def test_row_indices_stay_row_indices_through_shape_operations(shaped):
    # InfoNCE's targets torch.arange(n): the positive of row i is column i, however reshaped
    template = """
        def info_nce_loss(x, y):
            scores = x @ y.t()
            return F.cross_entropy(scores, torch.arange(scores.shape[0]){})
        """
    plain, reshaped = lowered(template.format("")), lowered(template.format(shaped))
    assert str(reshaped.parsed.expr) == str(plain.parsed.expr)


def test_a_diagonal_mask_repeated_over_blocks_of_views_is_refused_at_its_column():
    # SupCon's mask.repeat(anchor_count, contrast_count): the other views of a sample sit on
    # the diagonal of each block, which the generic pair of rows cannot tell from other samples
    text = HEADER + ("def supcon_loss(x):\n    mask = torch.eye(x.shape[0])\n"
                     "    mask = mask.repeat(2, 2)\n    return (x * mask).sum()\n")
    error = translation_error(text)
    assert error.position() == (7, 12)
    assert "diagonal mask" in error.message


def _mask_selection_cases(kind: str) -> list:
    table = json.loads((Path(__file__).parent / "data" / "mask_selections.json").read_text())
    return [pytest.param(case, id=case["id"]) for case in table[kind]]


@pytest.mark.parametrize("case", _mask_selection_cases("readings"))
def test_a_selection_by_a_mask_reads_as_the_elements_it_sums(case):
    loss = lowered(f"def loss(x, y, labels):\n    {case['body']}\n")
    expected = case["formula"].format(d="Abs(x - y)")
    assert same_function(loss.parsed.expr, expected), str(loss.parsed.expr)


@pytest.mark.parametrize("case", _mask_selection_cases("refusals"))
def test_a_selection_the_reader_does_not_model_is_refused_at_its_column(case):
    error = translation_error(HEADER + f"def loss(x, y, labels):\n    {case['body']}\n")
    assert error.position() == (6, case["column"])
    assert case["message"] in error.message


def test_a_layer_maps_the_selected_rows_alone_and_batch_norm_over_them_is_refused():
    model = """
        class Gated(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)
                self.norm = nn.BatchNorm1d(3)

            def forward(self, x):
                keep = x.sum(1) > 0
                return {}
        """
    loss = lowered(model.format("self.fc(x[keep]).sum()"), "Gated")
    (selected, condition), (unselected, _) = loss.parsed.expr.args
    assert "fc" in str(selected) and unselected == 0
    assert condition.free_symbols == {sp.Symbol(f"x[{i}]", real=True) for i in range(3)}
    with pytest.raises(SourceError) as caught:
        lowered(model.format("self.norm(x[keep]).sum()"), "Gated")
    assert caught.value.position() == (14, 16)  # self.norm(...) in the return line
    assert "BatchNorm1d of a selection" in caught.value.message


def test_a_selection_meets_a_model_parameter_shared_by_every_sample():
    loss = lowered("""
        class Scaled(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(1))

            def forward(self, x):
                return (x[x > 0] * self.scale).sum()
        """, "Scaled")
    assert same_function(loss.parsed.expr, "Piecewise((scale*x, x > 0), (0, True))"), \
        str(loss.parsed.expr)


def test_a_masked_accumulation_holds_the_accumulator_once():
    """``out[mask] += v`` reads as ``out + where(mask, v, 0)``: equal everywhere, and the tree
    grows by one mask per update (a mixture of experts updates once per expert and slot; as
    ``where(mask, out + v, out)`` each update doubles the tree)."""
    loss = lowered("""
        def masked_sum(x, w):
            out = torch.zeros_like(x)
            for k in range(1, 9):
                out[x > k] += w[x > k] * k
            return out.sum()
        """, "masked_sum")
    expr = loss.parsed.expr
    pieces = [node for node in sp.preorder_traversal(expr) if isinstance(node, sp.Piecewise)]
    assert len(pieces) == 8
    w, x = sorted(expr.free_symbols, key=str)
    for value in (sp.Rational(1, 2), sp.Integer(3), sp.Rational(7, 2), sp.Integer(10)):
        expected = sum(k * w for k in range(1, 9) if value > k)
        assert sp.expand(expr.subs(x, value) - expected) == 0


def test_einsum_is_a_smooth_function_of_its_operands_without_an_assumption():
    # a sum of products: smooth in each operand, nothing for the user to confirm
    loss = lowered("""
        def bilinear_loss(a, b):
            return torch.einsum("bi,bi->b", a, b).abs().mean()
        """)
    assert not any("einsum" in text for text in loss.translation.assumptions)
    assert {str(s) for s in loss.parsed.expr.free_symbols} >= {"a", "b"}


BOX_GIOU_ELEMENTWISE = """
    def giou_loss(boxes1, boxes2):
        lt = torch.max(boxes1[:, :2], boxes2[:, :2])
        rb = torch.min(boxes1[:, 2:], boxes2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[:, 0] * wh[:, 1]
        area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
        area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
        union = area1 + area2 - inter
        lt = torch.min(boxes1[:, :2], boxes2[:, :2])
        rb = torch.max(boxes1[:, 2:], boxes2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        area = wh[:, 0] * wh[:, 1]
        return (1 - (inter / union - (area - union) / area)).sum()
    """


@pytest.mark.parametrize("diagonal", [
    "torch.diag(generalized_box_iou(boxes1, boxes2))",
    "generalized_box_iou(boxes1, boxes2).diagonal()",
])
def test_the_diagonal_of_a_pairwise_box_iou_is_the_loss_of_matched_boxes(diagonal):
    # DETR's box loss: torchvision's pairwise GIoU (boxes1[:, None, :2] against boxes2[:, :2],
    # wh[:, :, 0], area1[:, None] + area2) read as pairs of rows; its diagonal pairs each box
    # with its own target, so it must be the elementwise GIoU written by hand
    pairwise = lowered(f"""
        from torchvision.ops import generalized_box_iou

        def giou_loss(boxes1, boxes2):
            return (1 - {diagonal}).sum()
        """)
    assert not pairwise.translation.assumptions
    by_hand = lowered(BOX_GIOU_ELEMENTWISE)
    assert same_function(pairwise.parsed.expr, str(by_hand.parsed.expr)), str(pairwise.parsed.expr)


def test_a_column_of_per_sample_values_against_components_is_not_pairs_of_rows():
    # s[:, None] (N, 1) times softmax(w) (N, C) is a column broadcast over the components:
    # only a tensor of the rank the column had before its new axis makes pairs with it
    loss = lowered("""
        def weighted_loss(x, w):
            s = (x ** 2).sum(1)
            return (s[:, None] * F.softmax(w, dim=1)).sum(1).mean()
        """)
    assert same_function(loss.parsed.expr, str(lowered("""
        def weighted_loss(x, w):
            return (x ** 2).sum(1).mean()
        """).parsed.expr))


@pytest.mark.parametrize("call, kinds", [
    ('distance_box_iou_loss(pred, target, reduction="mean")', {"kink"}),
    ('complete_box_iou_loss(box_convert(pred, "cxcywh", "xyxy"), target, reduction="sum")',
     {"kink"}),
    ("box_iou(pred, target).sum()", {"kink"}),
])
def test_torchvision_box_functions_are_read_from_their_source_not_assumed(tmp_path, call, kinds):
    path = tmp_path / "losses.py"
    path.write_text("from torchvision.ops import (box_convert, box_iou, complete_box_iou_loss,\n"
                    "                             distance_box_iou_loss)\n\n\n"
                    f"def box_loss(pred, target):\n    return {call}\n")
    (report,) = check_source(path, wrt=["pred"])
    assert report.error is None, report.error
    assert not report.assumptions
    assert report.differentiable is False
    assert kinds <= {f.kind for f in report.findings}
    # findings inside torchvision's code point at the user's call
    assert {f.line for f in report.findings} == {6}


def test_a_dtype_upcast_helper_branches_on_the_dtype_not_on_the_values():
    # Hugging Face's DETR box code: `if t.is_floating_point(): ...` asks about the dtype; read as
    # a condition on the tensor's values it made a jump where "is_floating_point(x) = 0"
    loss = lowered("""
        def _upcast(t):
            if t.is_floating_point():
                return t if t.dtype in (torch.float32, torch.float64) else t.float()
            else:
                return t if t.dtype in (torch.int32, torch.int64) else t.int()

        def area_loss(boxes):
            boxes = _upcast(boxes)
            return ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).mean()
        """)
    assert not loss.translation.assumptions
    assert same_function(loss.parsed.expr,
                         "(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])")


@pytest.mark.parametrize("shift", [
    "logits[..., :-1, :].contiguous(), labels[..., 1:].contiguous()",
    "logits, F.pad(labels, (0, 1), value=-100)[..., 1:]",
])
def test_labels_shifted_along_the_sequence_stay_labels(shift):
    # a causal language model's loss: the labels shifted by one token are class indices, not
    # probabilities over the classes (a slice of components that would not match the logits)
    loss = lowered(f"""
        def lm_loss(logits, labels):
            shift_logits, shift_labels = {shift}
            return F.cross_entropy(shift_logits.view(-1, 5), shift_labels.view(-1),
                                   ignore_index=-100)
        """)
    assert loss.wrt == [name for name in loss.wrt if name.startswith("logits")]
    assert "labels" in loss.translation.labels


def test_the_length_of_chunks_is_their_number():
    # DINO's loss: `for v in range(len(student_out))` over student_output.chunk(ncrops); a
    # length of the reader's default size indexed past the two chunks (an IndexError)
    loss = lowered("""
        def dino_loss(student_output, teacher_output, ncrops: int = 2):
            student_out = student_output.chunk(ncrops)
            teacher_out = F.softmax(teacher_output, dim=-1).detach().chunk(2)
            total = 0
            for iq, q in enumerate(teacher_out):
                for v in range(len(student_out)):
                    if v == iq:
                        continue
                    total += torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1).mean()
            return total / 2
        """)
    assert loss.parsed.expr.free_symbols


def test_einsum_operands_given_as_one_list():
    # MoCo: torch.einsum("nc,ck->nk", [q, queue]) is einsum of q and queue
    loss = lowered("""
        def moco_loss(q, k):
            l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
            return l_pos.mean()
        """)
    assert {str(s).split("[")[0] for s in loss.parsed.expr.free_symbols} == {"q", "k"}
    assert not loss.translation.assumptions


def test_rotary_embeddings_rotate_the_halves_of_a_layers_output(tmp_path):
    # LLaMA's rotate_half: x[..., :x.shape[-1] // 2] and x[..., x.shape[-1] // 2:] split the
    # components of q_proj(x) in two, and torch.cat((-x2, x1)) has as many as q again
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent("""
        def rotate_half(x):
            x1 = x[..., : x.shape[-1] // 2]
            x2 = x[..., x.shape[-1] // 2 :]
            return torch.cat((-x2, x1), dim=-1)

        class RotaryAttention(nn.Module):
            def __init__(self, dim=4):
                super().__init__()
                self.q_proj = nn.Linear(dim, dim, bias=False)
                self.k_proj = nn.Linear(dim, dim, bias=False)

            def forward(self, x, cos, sin):
                q = self.q_proj(x)
                k = self.k_proj(x)
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
                return F.softmax(q @ k.transpose(-2, -1), dim=-1)
        """))
    (report,) = check_source(path, selector="RotaryAttention")
    assert report.error is None, report.error
    assert report.differentiable is True and report.smoothness == "Cinf"


@pytest.mark.parametrize("init", [
    """
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                m.bias.data.zero_()
    """,
    """
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
    """,
])
def test_weight_initialization_in_the_constructor_is_skipped(tmp_path, init):
    # torchvision's ResNet and Hugging Face's models set starting values in __init__: they do
    # not change the function the model computes
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 1)
        """) + textwrap.indent(textwrap.dedent(init), "    ") + textwrap.dedent("""
            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
        """).replace("\n", "\n    ").rstrip() + "\n")
    (report,) = check_source(path, selector="Net")
    assert report.error is None, report.error
    assert report.differentiable is False and {f.kind for f in report.findings} == {"kink"}


@pytest.mark.parametrize("freezing, cut", [
    ("for p in self.body.parameters():\n    p.requires_grad = False", ["body"]),
    ("for name, p in self.body.named_parameters():\n    p.requires_grad_(False)", ["body"]),
    ("self.body.requires_grad_(False)", ["body"]),
    ("self.fc.bias.requires_grad = False", ["fc.bias"]),
    ("self.scale.requires_grad = False", ["scale"]),
    # a plain attribute of the module object: PyTorch freezes nothing
    ("self.body.requires_grad = False", []),
])
def test_parameters_frozen_while_the_model_is_built_get_no_gradient(tmp_path, freezing, cut):
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent("""
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 8)
                self.fc = nn.Linear(8, 1)
                self.scale = nn.Parameter(torch.ones(1))
        """) + textwrap.indent(freezing, " " * 8) + "\n" + textwrap.dedent("""
            def forward(self, x):
                return self.scale * self.fc(torch.tanh(self.body(x)))
        """).replace("\n", "\n    ").rstrip() + "\n")
    (report,) = check_source(path, selector="Head")
    assert report.error is None, report.error
    cuts = [f for f in report.findings if f.code == "DC402"]
    assert [name for f in cuts for name in f.cut] == cut
    assert all(f.line == 12 + freezing.count("\n") for f in cuts)  # the line that froze them


def test_parameters_frozen_by_a_condition_on_their_names_are_refused_at_their_line(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(HEADER + textwrap.dedent("""
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 8)
                self.fc = nn.Linear(8, 1)
                for name, p in self.named_parameters():
                    if "bias" in name:
                        p.requires_grad = False

            def forward(self, x):
                return self.fc(torch.tanh(self.body(x)))
        """))
    (report,) = check_source(path, selector="Head")
    assert report.error is not None and "requires_grad" in report.error.message
    assert report.error.line == 13


def test_legacy_tensor_constructors_type_names_and_builtin_isinstance():
    # older focal losses: alpha as torch.Tensor([a, 1 - a]) when isinstance(alpha, (float,
    # int)), picked per class by gather; x.type() compared with a CUDA type name
    loss = lowered("""
        def focal_loss(x, target, alpha=0.25):
            if isinstance(alpha, (float, int)):
                alpha = torch.Tensor([alpha, 1 - alpha])
            if x.type() == "torch.cuda.FloatTensor":
                x = x.abs()
            at = alpha.gather(0, target.view(-1))
            return (at * F.softplus(x)).mean()
        """)
    assert not loss.translation.assumptions
    assert loss.wrt == ["x"] and "target" in loss.translation.labels
    assert same_function(loss.parsed.expr, "log(1 + exp(x)) / 4")
