# A triplet loss as written in many re-identification repositories: F.pairwise_distance
# (which adds eps=1e-6 to the difference before the norm) and a hinge with a margin.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn
import torch.nn.functional as F


class TripletLoss(nn.Module):
    def __init__(self, margin: float = 0.3, p: float = 2.0):
        super().__init__()
        self.margin = margin
        self.p = p

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        d_ap = F.pairwise_distance(anchor, positive, p=self.p)
        d_an = F.pairwise_distance(anchor, negative, p=self.p)
        losses = torch.clamp(d_ap - d_an + self.margin, min=0.0)
        return losses.mean()
