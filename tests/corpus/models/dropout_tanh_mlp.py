# Tanh MLP with functional and module dropout: the dropout mask is fixed within a step (data),
# so the network stays smooth in its parameters. Written for the diffcheck corpus (MIT).
import torch
from torch import nn
import torch.nn.functional as F


class DropoutNet(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16, d_out: int = 2, p: float = 0.3):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(hidden, d_out)
        self.p = p

    def forward(self, x):
        h = torch.tanh(self.fc1(F.dropout(x, p=self.p, training=self.training)))
        return self.fc2(self.drop(h))
