# Differentiable discrete choice with F.gumbel_softmax(hard=False): the Gumbel noise is sampled
# per step (data), the relaxed one-hot is a softmax: smooth in the parameters.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn
import torch.nn.functional as F


class GumbelSelector(nn.Module):
    def __init__(self, d: int = 8, num_options: int = 4, tau: float = 0.5):
        super().__init__()
        self.logits_net = nn.Linear(d, num_options)
        self.options = nn.Linear(num_options, d, bias=False)
        self.tau = tau

    def forward(self, x):
        logits = self.logits_net(x)
        y = F.gumbel_softmax(logits, tau=self.tau, hard=False, dim=-1)
        return self.options(y)
