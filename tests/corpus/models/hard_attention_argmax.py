# Hard attention: each query attends to the single key with the largest score (argmax), and the
# selected values are gathered. The value jumps when the argmax changes, and the query/key
# projections receive no gradient (only integer indices come out of them).
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class HardAttention(nn.Module):
    def __init__(self, d: int = 8):
        super().__init__()
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (T, d)
        scores = self.q_proj(x) @ self.k_proj(x).t()
        idx = scores.argmax(dim=-1)
        v = self.v_proj(x)
        return v[idx]
