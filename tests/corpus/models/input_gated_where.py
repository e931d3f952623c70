# Two branches chosen per element by a condition on the input data (torch.where(x > 0, ...)):
# the switch does not move with the parameters, so the output stays smooth in them.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class SignGatedNet(nn.Module):
    def __init__(self, d: int = 8):
        super().__init__()
        self.pos = nn.Linear(d, d)
        self.neg = nn.Linear(d, d)

    def forward(self, x):
        return torch.where(x > 0, torch.tanh(self.pos(x)), torch.sigmoid(self.neg(x)))
