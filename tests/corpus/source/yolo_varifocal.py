# Modeled on ultralytics.utils.loss.VarifocalLoss (ultralytics/ultralytics, AGPL-3.0): a sigmoid^gamma
# weight for negatives, the IoU score for positives, BCE with logits under autocast(enabled=False).
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn
import torch.nn.functional as F

from ultralytics.utils.torch_utils import autocast


class VarifocalLoss(nn.Module):
    """Varifocal loss (Zhang et al. 2021): asymmetric focal weighting by the IoU-aware score."""

    def __init__(self, gamma: float = 2.0, alpha: float = 0.75):
        super().__init__()
        self.gamma = gamma
        self.alpha = alpha

    def forward(self, pred_score: torch.Tensor, gt_score: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        neg_weight = self.alpha * pred_score.sigmoid().pow(self.gamma) * (1 - label)
        weight = neg_weight + gt_score * label
        with autocast(enabled=False):
            bce = F.binary_cross_entropy_with_logits(pred_score, gt_score.type_as(pred_score), reduction="none")
            loss = (bce * weight).mean(1).sum()
        return loss
