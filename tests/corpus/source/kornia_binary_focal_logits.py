# Modeled on kornia/losses/focal.py binary_focal_loss_with_logits (kornia/kornia, Apache-2.0).
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def binary_focal_loss_with_logits(pred, target, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"):
    probs_pos = pred.sigmoid()
    probs_neg = (-pred).sigmoid()
    loss_tmp = (
        -alpha * torch.pow(probs_neg, gamma) * target * F.logsigmoid(pred)
        - (1 - alpha) * torch.pow(probs_pos, gamma) * (1.0 - target) * F.logsigmoid(-pred)
    )
    if reduction == "none":
        loss = loss_tmp
    elif reduction == "mean":
        loss = torch.mean(loss_tmp)
    elif reduction == "sum":
        loss = torch.sum(loss_tmp)
    return loss
