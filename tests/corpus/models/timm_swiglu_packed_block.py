# Modeled on timm (huggingface/pytorch-image-models, Apache-2.0): layers/helpers.py's
# to_2tuple (itertools.repeat, collections.abc.Iterable), layers/drop.py's DropPath,
# layers/mlp.py's GluMlp with SwiGLUPacked = partial(GluMlp, ...), and
# vision_transformer.py's LayerScale; ResidualGluBlock is the MLP half of a ViT block with a
# SwiGLU MLP (x + drop_path(ls(mlp(norm(x))))). Rewritten for the diffcheck corpus; not a
# verbatim copy.
import collections.abc
from functools import partial
from itertools import repeat

import torch
from torch import nn as nn


def _ntuple(n):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    return parse


to_2tuple = _ntuple(2)


def drop_path(x, drop_prob: float = 0., training: bool = False, scale_by_keep: bool = True):
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)  # one draw per sample
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


class DropPath(nn.Module):
    def __init__(self, drop_prob: float = 0., scale_by_keep: bool = True):
        super().__init__()
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)


class GluMlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.Sigmoid,
                 norm_layer=None, bias=True, drop=0., use_conv=False, gate_last=True):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        assert hidden_features % 2 == 0
        bias = to_2tuple(bias)
        drop_probs = to_2tuple(drop)
        linear_layer = partial(nn.Conv2d, kernel_size=1) if use_conv else nn.Linear
        self.chunk_dim = 1 if use_conv else -1
        self.gate_last = gate_last  # the second half of the width is the gate
        self.fc1 = linear_layer(in_features, hidden_features, bias=bias[0])
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop_probs[0])
        self.norm = norm_layer(hidden_features // 2) if norm_layer is not None else nn.Identity()
        self.fc2 = linear_layer(hidden_features // 2, out_features, bias=bias[1])
        self.drop2 = nn.Dropout(drop_probs[1])

    def forward(self, x):
        x1, x2 = self.fc1(x).chunk(2, dim=self.chunk_dim)
        x = x1 * self.act(x2) if self.gate_last else self.act(x1) * x2
        x = self.norm(self.drop1(x))
        return self.drop2(self.fc2(x))


SwiGLUPacked = partial(GluMlp, act_layer=nn.SiLU, gate_last=False)


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5, inplace=False):
        super().__init__()
        self.inplace = inplace
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x.mul_(self.gamma) if self.inplace else x * self.gamma


class ResidualGluBlock(nn.Module):
    def __init__(self, dim: int = 4, mlp_ratio: float = 2.0, init_values: float = 1e-5,
                 drop_path: float = 0.1):
        super().__init__()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = SwiGLUPacked(dim, hidden_features=int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, init_values=init_values) if init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    def forward(self, x):
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
