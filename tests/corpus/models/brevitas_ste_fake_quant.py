# Modeled on Brevitas' src/brevitas/ops/autograd_ste_ops.py (Xilinx/brevitas, BSD-3-Clause):
# torch.autograd.Function subclasses with a straight-through backward (RoundSteFn,
# ScalarClampSteFn) and their module-level `*_impl = Fn.apply` aliases. Rewritten for the
# diffcheck corpus; not a verbatim copy. FakeQuantLinear, a 4-bit fake-quantized linear layer
# in Brevitas' style, is written for the corpus.
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function


class ScalarClampSteFn(Function):
    """torch.clamp forward; the gradient w.r.t. x passes straight through."""

    @staticmethod
    def forward(ctx, x: Tensor, min_val: float, max_val: float) -> Tensor:
        return torch.clamp(x, min_val, max_val)

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> Tuple[Tensor, None, None]:
        return grad_y, None, None


class RoundSteFn(Function):
    """torch.round forward; straight-through backward."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> Tensor:
        return grad_y


round_ste_impl = RoundSteFn.apply
scalar_clamp_ste_impl = ScalarClampSteFn.apply


class FakeQuantLinear(nn.Linear):
    def __init__(self, in_features: int = 4, out_features: int = 2, bit_width: int = 4,
                 scale: float = 0.05):
        super().__init__(in_features, out_features)
        self.min_int = -(2 ** (bit_width - 1))
        self.max_int = 2 ** (bit_width - 1) - 1
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        w_int = scalar_clamp_ste_impl(round_ste_impl(self.weight / self.scale),
                                      float(self.min_int), float(self.max_int))
        return F.linear(x, w_int * self.scale, self.bias)
