# Modeled on kornia.losses.tversky and kornia.utils.one_hot (kornia/kornia, Apache-2.0): softmax over
# the class axis, a one-hot (+eps) built by scatter_ from integer labels, soft TP/FP/FN sums.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def one_hot(labels: torch.Tensor, num_classes: int, device: Optional[torch.device] = None,
            dtype: Optional[torch.dtype] = None, eps: float = 1e-6) -> torch.Tensor:
    """Integer labels (B, H, W) -> one-hot (B, C, H, W), with ``eps`` added to every entry."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a Tensor, got {type(labels)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    size = labels.shape
    out = torch.zeros((size[0], num_classes) + size[1:], device=device, dtype=dtype)
    return out.scatter_(1, labels.unsqueeze(1), 1.0) + eps


def tversky_loss(input: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
                 eps: float = 1e-8) -> torch.Tensor:
    r"""1 - TP / (TP + alpha FP + beta FN) with soft counts over (C, H, W) per sample."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a Tensor, got {type(input)}")
    if len(input.shape) != 4:
        raise ValueError(f"expected BxCxHxW, got {input.shape}")
    if input.shape[-2:] != target.shape[-2:]:
        raise ValueError(f"spatial sizes differ: {input.shape} vs {target.shape}")

    probs: torch.Tensor = F.softmax(input, dim=1)
    target_1h: torch.Tensor = one_hot(target, num_classes=input.shape[1], device=input.device, dtype=input.dtype)

    dims = (1, 2, 3)
    tp = torch.sum(probs * target_1h, dims)
    fp = torch.sum(probs * (-target_1h + 1.0), dims)
    fn = torch.sum((-probs + 1.0) * target_1h, dims)

    score = tp / (tp + alpha * fp + beta * fn + eps)
    return torch.mean(-score + 1.0)


class TverskyLoss(nn.Module):
    """Module form of :func:`tversky_loss` (alpha = beta = 0.5 is the Dice loss)."""

    def __init__(self, alpha: float, beta: float, eps: float = 1e-8) -> None:
        super().__init__()
        self.alpha: float = alpha
        self.beta: float = beta
        self.eps: float = eps

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return tversky_loss(input, target, self.alpha, self.beta, self.eps)
