# A residual tower: an nn.ModuleList of pre-norm residual MLP blocks iterated in forward, with a
# smooth activation (Tanh) and LayerNorm. Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class ResidualTower(nn.Module):
    def __init__(self, d: int = 8, depth: int = 3):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.Tanh()) for _ in range(depth)])
        self.out = nn.Linear(d, 1)

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return self.out(x)
