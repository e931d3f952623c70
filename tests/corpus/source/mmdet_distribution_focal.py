# Modeled on mmdet.models.losses.gfocal_loss.distribution_focal_loss (open-mmlab/mmdetection,
# Apache-2.0): a @weighted_loss decorator defined in the file, stacked on @mmcv.jit.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import functools

import mmcv
import torch.nn as nn
import torch.nn.functional as F

from mmdet.registry import MODELS


def weighted_loss(loss_func):
    """Element-wise loss -> loss with weight / reduction / avg_factor."""

    @functools.wraps(loss_func)
    def wrapper(pred, target, weight=None, reduction="mean", avg_factor=None, **kwargs):
        loss = loss_func(pred, target, **kwargs)
        if weight is not None:
            loss = loss * weight
        if avg_factor is not None and reduction == "mean":
            return loss.sum() / avg_factor
        if reduction == "mean":
            return loss.mean()
        return loss.sum() if reduction == "sum" else loss

    return wrapper


@weighted_loss
@mmcv.jit(derivate=True, coderize=True)
def distribution_focal_loss(pred, label):
    """DFL (Li et al. 2020): cross-entropy at the two integer bins around a continuous label."""
    lo = label.long()
    hi = lo + 1
    w_lo = hi.float() - label
    w_hi = label - lo.float()
    return (F.cross_entropy(pred, lo, reduction="none") * w_lo
            + F.cross_entropy(pred, hi, reduction="none") * w_hi)


@MODELS.register_module()
class DistributionFocalLoss(nn.Module):
    def __init__(self, reduction="mean", loss_weight=1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred, target, weight=None, avg_factor=None, reduction_override=None):
        assert reduction_override in (None, "none", "mean", "sum")
        reduction = reduction_override if reduction_override else self.reduction
        return self.loss_weight * distribution_focal_loss(
            pred, target, weight, reduction=reduction, avg_factor=avg_factor)
