# A fake-quantized linear layer for quantization-aware training (LSQ / QAT style): the weight is
# rounded to a signed 4-bit grid and clamped, with a straight-through estimator
# w + (w_q - w).detach(). Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn
import torch.nn.functional as F


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (x.round() - x).detach()


class QuantLinear(nn.Linear):
    def __init__(self, in_features: int = 8, out_features: int = 4, bits: int = 4, step: float = 0.05):
        super().__init__(in_features, out_features)
        self.qmin = -(2 ** (bits - 1))
        self.qmax = 2 ** (bits - 1) - 1
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_int = torch.clamp(round_ste(self.weight / self.step), self.qmin, self.qmax)
        return F.linear(x, w_int * self.step, self.bias)
