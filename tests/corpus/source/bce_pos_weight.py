# Class-imbalanced multi-label classification: F.binary_cross_entropy_with_logits with
# pos_weight and an ignore mask of the labels. Written for the diffcheck corpus (MIT).
import torch
import torch.nn.functional as F


def masked_bce_loss(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor, ignore_value: float = -1.0):
    valid = targets != ignore_value
    loss = F.binary_cross_entropy_with_logits(logits, targets.clamp(min=0), pos_weight=pos_weight, reduction="none")
    loss = loss * valid.float()
    return loss.sum() / valid.float().sum().clamp(min=1.0)
