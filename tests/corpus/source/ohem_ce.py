# Online hard example mining (Shrivastava et al. 2016) on a cross-entropy: keep the k largest
# per-sample losses with topk and average them. Written for the diffcheck corpus (MIT).
import torch
import torch.nn.functional as F


def ohem_cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor, keep: int = 4) -> torch.Tensor:
    per_sample = F.cross_entropy(logits, labels, reduction="none")
    hard, _ = per_sample.topk(keep)
    return hard.mean()
