# Modeled on monai.losses.FocalLoss (Project-MONAI/MONAI, Apache-2.0): the LossReduction enum, sigmoid
# and softmax variants in helper functions, include_background slicing, a class-weight buffer.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

from monai.utils import LossReduction


class FocalLoss(_Loss):
    """Focal loss on logits for (B, N, H[, W, D]) inputs and targets of the same shape."""

    def __init__(self, include_background: bool = True, gamma: float = 2.0, alpha: float | None = None,
                 weight: torch.Tensor | None = None, reduction: LossReduction | str = LossReduction.MEAN,
                 use_softmax: bool = False) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        self.include_background = include_background
        self.gamma = gamma
        self.alpha = alpha
        self.use_softmax = use_softmax
        self.class_weight = torch.as_tensor(weight) if weight is not None else None

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n_pred_ch = input.shape[1]
        if not self.include_background:
            if n_pred_ch == 1:
                warnings.warn("single channel prediction, `include_background=False` ignored.")
            else:
                target = target[:, 1:]
                input = input[:, 1:]
        if target.shape != input.shape:
            raise ValueError(f"shapes differ: {target.shape} vs {input.shape}")

        target = target.type_as(input)
        if self.use_softmax:
            loss = softmax_focal_loss(input, target, self.gamma, self.alpha)
        else:
            loss = sigmoid_focal_loss(input, target, self.gamma, self.alpha)

        if self.class_weight is not None:
            dims = [-1] + [1] * len(target.shape[2:])
            loss = self.class_weight.to(loss).view(dims) * loss

        if self.reduction == LossReduction.SUM.value:
            return loss.mean(dim=list(range(2, len(target.shape)))).sum()
        if self.reduction == LossReduction.MEAN.value:
            return loss.mean()
        if self.reduction == LossReduction.NONE.value:
            return loss
        raise ValueError(f"Unsupported reduction: {self.reduction}")


def softmax_focal_loss(input: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: float | None = None) -> torch.Tensor:
    log_p = input.log_softmax(1)
    loss: torch.Tensor = -(1 - log_p.exp()).pow(gamma) * log_p * target
    if alpha is not None:
        factors = torch.tensor([1 - alpha] + [alpha] * (target.shape[1] - 1)).to(loss)
        loss = factors.view([-1] + [1] * len(target.shape[2:])) * loss
    return loss


def sigmoid_focal_loss(input: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: float | None = None) -> torch.Tensor:
    # BCE with logits written out: x - x t - log sigmoid(x)
    loss: torch.Tensor = input - input * target - F.logsigmoid(input)
    # log(1 - p_t) = logsigmoid(-x (2t - 1)): the focal factor in log space
    log_one_minus_pt = F.logsigmoid(-input * (target * 2 - 1))
    loss = (log_one_minus_pt * gamma).exp() * loss
    if alpha is not None:
        loss = (target * alpha + (1 - target) * (1 - alpha)) * loss
    return loss
