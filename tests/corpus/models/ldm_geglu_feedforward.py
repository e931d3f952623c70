# Modeled on ldm/modules/attention.py of latent diffusion / stable diffusion (CompVis, MIT):
# exists, default (d() if inspect.isfunction(d) else d), GEGLU and FeedForward (an
# nn.Sequential inside an nn.Sequential). Rewritten for the diffcheck corpus; not a verbatim copy.
from inspect import isfunction

import torch.nn.functional as F
from torch import nn


def exists(val):
    return val is not None


def default(val, d):
    if exists(val):
        return val
    return d() if isfunction(d) else d


class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, dim_out=None, mult=4, glu=False, dropout=0.):
        super().__init__()
        inner_dim = int(dim * mult)
        dim_out = default(dim_out, dim)
        if glu:
            project_in = GEGLU(dim, inner_dim)
        else:
            project_in = nn.Sequential(nn.Linear(dim, inner_dim), nn.GELU())
        self.net = nn.Sequential(project_in, nn.Dropout(dropout), nn.Linear(inner_dim, dim_out))

    def forward(self, x):
        return self.net(x)
