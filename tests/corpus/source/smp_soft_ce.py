# Modeled on segmentation_models_pytorch.losses.SoftCrossEntropyLoss and label_smoothed_nll_loss
# (qubvel-org/segmentation_models.pytorch, MIT; after fairseq): gather at the target, masked_fill of
# ignore_index, label smoothing through the sum of log-probabilities.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def label_smoothed_nll_loss(lprobs: torch.Tensor, target: torch.Tensor, epsilon: float,
                            ignore_index=None, reduction="mean", dim=-1) -> torch.Tensor:
    """(1 - eps) NLL + eps / C * (-sum of log-probabilities), ignored positions zeroed."""
    if target.dim() == lprobs.dim() - 1:
        target = target.unsqueeze(dim)

    if ignore_index is not None:
        pad_mask = target.eq(ignore_index)
        target = target.masked_fill(pad_mask, 0)
        nll_loss = -lprobs.gather(dim=dim, index=target)
        smooth_loss = -lprobs.sum(dim=dim, keepdim=True)
        nll_loss = nll_loss.masked_fill(pad_mask, 0.0)
        smooth_loss = smooth_loss.masked_fill(pad_mask, 0.0)
    else:
        nll_loss = -lprobs.gather(dim=dim, index=target).squeeze(dim)
        smooth_loss = -lprobs.sum(dim=dim, keepdim=True).squeeze(dim)

    if reduction == "sum":
        nll_loss, smooth_loss = nll_loss.sum(), smooth_loss.sum()
    if reduction == "mean":
        nll_loss, smooth_loss = nll_loss.mean(), smooth_loss.mean()

    eps_i = epsilon / lprobs.size(dim)
    return (1.0 - epsilon) * nll_loss + eps_i * smooth_loss


class SoftCrossEntropyLoss(nn.Module):
    """nn.CrossEntropyLoss with label smoothing for (N, C, H, W) logits and (N, H, W) targets."""

    __constants__ = ["reduction", "ignore_index", "smooth_factor"]

    def __init__(self, reduction: str = "mean", smooth_factor: Optional[float] = None,
                 ignore_index: Optional[int] = -100, dim: int = 1):
        super().__init__()
        self.smooth_factor = smooth_factor
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.dim = dim

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        log_prob = F.log_softmax(y_pred, dim=self.dim)
        return label_smoothed_nll_loss(log_prob, y_true, epsilon=self.smooth_factor,
                                       ignore_index=self.ignore_index, reduction=self.reduction,
                                       dim=self.dim)
