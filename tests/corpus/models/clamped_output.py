# A probability regressor that clamps its sigmoid-free output into [0, 1] (instead of using a
# sigmoid): torch.clamp makes kinks where the pre-clamp output crosses 0 or 1.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class ClampedRegressor(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        return torch.clamp(self.fc2(torch.tanh(self.fc1(x))), 0.0, 1.0)
