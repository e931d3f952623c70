# Modeled on mmdet/models/losses/dice_loss.py dice_loss (open-mmlab/mmdetection, Apache-2.0):
# V-Net dice (squared denominators) or naive dice, on flattened masks. Rewritten for the
# diffcheck corpus; not a verbatim copy.
import torch


def dice_loss(pred, target, eps: float = 1e-3, naive_dice: bool = False):
    input = pred.flatten(1)
    target = target.flatten(1).float()

    a = torch.sum(input * target, 1)
    if naive_dice:
        b = torch.sum(input, 1)
        c = torch.sum(target, 1)
        d = (2 * a + eps) / (b + c + eps)
    else:
        b = torch.sum(input * input, 1) + eps
        c = torch.sum(target * target, 1) + eps
        d = (2 * a) / (b + c)

    loss = 1 - d
    return loss.mean()
