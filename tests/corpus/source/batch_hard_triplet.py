# Batch-hard triplet loss (Hermans et al. 2017, "In Defense of the Triplet Loss"): hardest
# positive = max over the label mask, hardest negative = min over the rest, then a hinge.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn.functional as F


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    dist = torch.cdist(embeddings, embeddings, p=2)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    hardest_pos = (dist * same.float()).max(dim=1).values
    max_dist = dist.max(dim=1, keepdim=True).values
    hardest_neg = (dist + max_dist * same.float()).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean()
