# Modeled on ultralytics.utils.loss.DFLoss (ultralytics/ultralytics, AGPL-3.0): distribution focal loss
# over integer bins, target clamped in place, .long() bins, cross-entropy reshaped with view.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn
import torch.nn.functional as F


class DFLoss(nn.Module):
    """Distribution focal loss (Li et al. 2020) on the two bins around a continuous target."""

    def __init__(self, reg_max: int = 16) -> None:
        super().__init__()
        self.reg_max = reg_max

    def __call__(self, pred_dist: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.clamp_(0, self.reg_max - 1 - 0.01)
        left = target.long()
        right = left + 1
        w_left = right - target
        w_right = 1 - w_left
        ce_left = F.cross_entropy(pred_dist, left.view(-1), reduction="none").view(left.shape)
        ce_right = F.cross_entropy(pred_dist, right.view(-1), reduction="none").view(left.shape)
        return (ce_left * w_left + ce_right * w_right).mean(-1, keepdim=True)
