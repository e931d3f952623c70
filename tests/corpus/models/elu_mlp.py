# An MLP with ELU (alpha = 1): ELU is C1 but not C2 at 0 (second derivative 0 vs 1), so the
# network is differentiable, class C1. Written for the diffcheck corpus (MIT, this project).
from torch import nn


class ELUNet(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16, d_out: int = 2):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.act = nn.ELU(alpha=1.0)
        self.fc2 = nn.Linear(hidden, d_out)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
