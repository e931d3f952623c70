# Contrastive loss of Hadsell, Chopra and LeCun (2006) as commonly written for siamese networks:
# y = 1 for similar pairs, 0 for dissimilar ones; squared hinge on the Euclidean distance.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn.functional as F


def contrastive_loss(x1: torch.Tensor, x2: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    d = F.pairwise_distance(x1, x2, keepdim=False)
    loss = y * d.pow(2) + (1 - y) * torch.clamp(margin - d, min=0.0).pow(2)
    return 0.5 * loss.mean()
