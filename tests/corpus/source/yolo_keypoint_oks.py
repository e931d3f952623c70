# Modeled on ultralytics.utils.loss.KeypointLoss (ultralytics/ultralytics, AGPL-3.0): an OKS-style
# keypoint loss with per-keypoint sigmas given to __init__ as a tensor and a visibility mask.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn


class KeypointLoss(nn.Module):
    """1 - exp(-d^2 / (2 s^2 area)) per visible keypoint, weighted by how many are visible."""

    def __init__(self, sigmas: torch.Tensor) -> None:
        super().__init__()
        self.sigmas = sigmas

    def forward(self, pred_kpts: torch.Tensor, gt_kpts: torch.Tensor, kpt_mask: torch.Tensor,
                area: torch.Tensor) -> torch.Tensor:
        dx = pred_kpts[..., 0] - gt_kpts[..., 0]
        dy = pred_kpts[..., 1] - gt_kpts[..., 1]
        sq_dist = dx.pow(2) + dy.pow(2)
        visible_factor = kpt_mask.shape[1] / (torch.sum(kpt_mask != 0, dim=1) + 1e-9)
        e = sq_dist / ((2 * self.sigmas).pow(2) * (area + 1e-9) * 2)  # COCO eval convention
        return (visible_factor.view(-1, 1) * ((1 - torch.exp(-e)) * kpt_mask)).mean()
