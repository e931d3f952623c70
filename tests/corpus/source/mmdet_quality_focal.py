# Modeled on mmdet.models.losses.gfocal_loss.quality_focal_loss (open-mmlab/mmdetection, Apache-2.0):
# a (label, score) tuple target, positives found with nonzero(), masked assignment loss[pos, label],
# stacked @weighted_loss / @mmcv.jit decorators and a registered Module.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import functools

import mmcv
import torch.nn as nn
import torch.nn.functional as F

from mmdet.registry import MODELS


def reduce_loss(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    return loss.sum()


def weight_reduce_loss(loss, weight=None, reduction="mean", avg_factor=None):
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return reduce_loss(loss, reduction)
    if reduction == "mean":
        return loss.sum() / avg_factor
    if reduction != "none":
        raise ValueError('avg_factor can not be used with reduction="sum"')
    return loss


def weighted_loss(loss_func):
    """Give an element-wise loss ``weight``, ``reduction`` and ``avg_factor`` arguments."""

    @functools.wraps(loss_func)
    def wrapper(pred, target, weight=None, reduction="mean", avg_factor=None, **kwargs):
        loss = loss_func(pred, target, **kwargs)
        return weight_reduce_loss(loss, weight, reduction, avg_factor)

    return wrapper


@weighted_loss
@mmcv.jit(derivate=True, coderize=True)
def quality_focal_loss(pred, target, beta=2.0):
    """QFL (Li et al. 2020): BCE against the IoU score, scaled by |score - sigmoid|^beta."""
    assert len(target) == 2, "target must be (category label, quality score)"
    label, score = target

    # every entry first as a negative (quality 0)
    sig = pred.sigmoid()
    zeros = sig.new_zeros(pred.shape)
    loss = F.binary_cross_entropy_with_logits(pred, zeros, reduction="none") * sig.pow(beta)

    # positives: category ids in [0, num_classes), background is num_classes
    num_classes = pred.size(1)
    pos = ((label >= 0) & (label < num_classes)).nonzero().squeeze(1)
    pos_label = label[pos].long()
    gap = score[pos] - sig[pos, pos_label]
    loss[pos, pos_label] = F.binary_cross_entropy_with_logits(
        pred[pos, pos_label], score[pos], reduction="none") * gap.abs().pow(beta)
    return loss.sum(dim=1, keepdim=False)


@MODELS.register_module()
class QualityFocalLoss(nn.Module):
    def __init__(self, use_sigmoid=True, beta=2.0, reduction="mean", loss_weight=1.0):
        super().__init__()
        assert use_sigmoid is True, "only the sigmoid form is implemented"
        self.use_sigmoid = use_sigmoid
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred, target, weight=None, avg_factor=None, reduction_override=None):
        assert reduction_override in (None, "none", "mean", "sum")
        reduction = reduction_override if reduction_override else self.reduction
        return self.loss_weight * quality_focal_loss(
            pred, target, weight, beta=self.beta, reduction=reduction, avg_factor=avg_factor)
