# Crammer-Singer multiclass hinge with the max over the wrong classes: the true class is pushed
# out with a large negative mask, then max(dim=1). Written for the diffcheck corpus (MIT).
import torch
import torch.nn.functional as F


def crammer_singer_loss(logits: torch.Tensor, target: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    one_hot = F.one_hot(target, num_classes=logits.shape[1]).to(logits.dtype)
    true_score = (logits * one_hot).sum(dim=1)
    other = logits - 1e4 * one_hot
    best_other, _ = other.max(dim=1)
    return F.relu(margin + best_other - true_score).mean()
