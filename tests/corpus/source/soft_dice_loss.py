# The common "soft Dice" written in many segmentation repositories (smooth term in both the
# numerator and the denominator, no clamp). Written for the diffcheck corpus (MIT, this project).
import torch


def soft_dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - Dice coefficient of sigmoid(logits) and a binary mask, per image, averaged."""
    probs = torch.sigmoid(logits)
    num = targets.size(0)
    m1 = probs.view(num, -1)
    m2 = targets.view(num, -1)
    intersection = m1 * m2
    score = 2.0 * (intersection.sum(1) + smooth) / (m1.sum(1) + m2.sum(1) + smooth)
    score = 1 - score.sum() / num
    return score
