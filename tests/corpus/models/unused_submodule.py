# A model that builds an auxiliary head in __init__ but never calls it in forward (left over
# from an experiment): its parameters get no gradient (DDP's "parameters that did not receive
# grad"). Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class RegressorWithStaleHead(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, 1)
        self.aux_head = nn.Linear(hidden, 4)

    def forward(self, x):
        feats = self.backbone(x)
        return self.head(feats)
