# Modeled on T5LayerNorm, NewGELUActivation and T5DenseGatedActDense of HF transformers
# (models/t5/modeling_t5.py and activations.py, Apache-2.0): an RMS norm computed in float32, a
# gated GELU feed-forward, and a dtype test before the output projection that the source does
# not decide. Rewritten for the diffcheck corpus; not a verbatim copy. T5Block wires the norm and
# the feed-forward with a residual sum as T5LayerFF does.
import math

import torch
from torch import nn


class NewGELUActivation(nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))


ACT2FN = {"gelu_new": NewGELUActivation, "relu": nn.ReLU}


class T5LayerNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        # root mean square only: no mean subtracted, no bias
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in [torch.float16, torch.bfloat16]:
            hidden_states = hidden_states.to(self.weight.dtype)
        return self.weight * hidden_states


class T5DenseGatedActDense(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout_rate: float, act: str):
        super().__init__()
        self.wi_0 = nn.Linear(d_model, d_ff, bias=False)
        self.wi_1 = nn.Linear(d_model, d_ff, bias=False)
        self.wo = nn.Linear(d_ff, d_model, bias=False)
        self.dropout = nn.Dropout(dropout_rate)
        self.act = ACT2FN[act]()

    def forward(self, hidden_states):
        hidden_states = self.act(self.wi_0(hidden_states)) * self.wi_1(hidden_states)
        hidden_states = self.dropout(hidden_states)
        if (
            isinstance(self.wo.weight, torch.Tensor)
            and hidden_states.dtype != self.wo.weight.dtype
            and self.wo.weight.dtype != torch.int8
        ):
            hidden_states = hidden_states.to(self.wo.weight.dtype)
        return self.wo(hidden_states)


class T5Block(nn.Module):
    def __init__(self, d_model: int = 4, d_ff: int = 6, dropout_rate: float = 0.1, act: str = "gelu_new"):
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(d_model, d_ff, dropout_rate, act)
        self.layer_norm = T5LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, hidden_states):
        forwarded_states = self.DenseReluDense(self.layer_norm(hidden_states))
        return hidden_states + self.dropout(forwarded_states)
