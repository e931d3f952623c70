# An MLP with only smooth activations (GELU, SiLU) and LayerNorm. Written for the diffcheck
# corpus (MIT, this project).
from torch import nn


class SmoothMLP(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16, d_out: int = 2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.GELU(),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, d_out),
        )

    def forward(self, x):
        return self.net(x)
