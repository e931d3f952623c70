# A sparse mixture-of-experts layer with a top-k router (Switch / Mixtral style): softmax over
# the k largest gate logits, experts in an nn.ModuleList, tokens dispatched by index.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn
import torch.nn.functional as F


class Expert(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(d, hidden)
        self.w2 = nn.Linear(hidden, d)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)))


class SparseMoE(nn.Module):
    def __init__(self, d: int = 8, hidden: int = 16, num_experts: int = 4, top_k: int = 2):
        super().__init__()
        self.gate = nn.Linear(d, num_experts, bias=False)
        self.experts = nn.ModuleList([Expert(d, hidden) for _ in range(num_experts)])
        self.top_k = top_k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (tokens, d)
        router_logits = self.gate(x)
        top_vals, top_idx = torch.topk(router_logits, self.top_k, dim=-1)
        weights = F.softmax(top_vals, dim=-1)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            for slot in range(self.top_k):
                mask = top_idx[:, slot] == e
                out[mask] += weights[mask, slot].unsqueeze(-1) * expert(x[mask])
        return out
