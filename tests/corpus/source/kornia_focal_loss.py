# Modeled on kornia.losses.focal (kornia/kornia, Apache-2.0): multi-class focal loss with
# one-hot targets built from integer labels, and its nn.Module wrapper.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def one_hot(labels: torch.Tensor, num_classes: int, device=None, dtype=None, eps: float = 1e-6) -> torch.Tensor:
    """Integer labels (B, *) to a one-hot tensor (B, C, *) with ``eps`` added everywhere."""
    shape = labels.shape
    one_hot_t = torch.zeros((shape[0], num_classes) + shape[1:], device=device, dtype=dtype)
    return one_hot_t.scatter_(1, labels.unsqueeze(1), 1.0) + eps


def focal_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    alpha: Optional[float],
    gamma: float = 2.0,
    reduction: str = "none",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Criterion that computes Focal loss.

    .. math::
        \text{FL}(p_t) = -\alpha_t (1 - p_t)^{\gamma} \, \text{log}(p_t)

    Args:
        pred: logits tensor with shape :math:`(N, C, *)`.
        target: labels tensor with shape :math:`(N, *)`, ``0 <= target[i] <= C-1``.
        alpha: weighting factor :math:`\alpha \in [0, 1]`.
        gamma: focusing parameter :math:`\gamma >= 0`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
    """
    if not isinstance(pred, torch.Tensor):
        raise TypeError(f"pred type is not a torch.Tensor. Got {type(pred)}")

    out_size = (pred.shape[0],) + pred.shape[2:]
    if target.shape[1:] != pred.shape[2:]:
        raise ValueError(f"Expected target size {out_size}, got {target.shape}")

    # create the labels one hot tensor
    target_one_hot: torch.Tensor = one_hot(target, num_classes=pred.shape[1], device=pred.device, dtype=pred.dtype)

    # compute softmax over the classes axis
    log_pred_soft: torch.Tensor = pred.log_softmax(1)

    # compute the actual focal loss
    loss_tmp: torch.Tensor = -torch.pow(1.0 - log_pred_soft.exp(), gamma) * log_pred_soft * target_one_hot

    num_of_classes = pred.shape[1]
    broadcast_dims = [-1] + [1] * len(pred.shape[2:])
    if alpha is not None:
        alpha_fac = torch.tensor([1 - alpha] + [alpha] * (num_of_classes - 1), dtype=loss_tmp.dtype, device=loss_tmp.device)
        alpha_fac = alpha_fac.view(broadcast_dims)
        loss_tmp = alpha_fac * loss_tmp

    if weight is not None:
        weight = weight.view(broadcast_dims)
        loss_tmp = weight * loss_tmp

    if reduction == "none":
        loss = loss_tmp
    elif reduction == "mean":
        loss = torch.mean(loss_tmp)
    elif reduction == "sum":
        loss = torch.sum(loss_tmp)
    else:
        raise NotImplementedError(f"Invalid reduction mode: {reduction}")
    return loss


class FocalLoss(nn.Module):
    r"""Criterion that computes Focal loss (see :func:`focal_loss`)."""

    def __init__(self, alpha: Optional[float], gamma: float = 2.0, reduction: str = "none", weight=None) -> None:
        super().__init__()
        self.alpha: Optional[float] = alpha
        self.gamma: float = gamma
        self.reduction: str = reduction
        self.weight: Optional[torch.Tensor] = weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_loss(pred, target, self.alpha, self.gamma, self.reduction, self.weight)
