# Modeled on mmseg/models/losses/dice_loss.py (v0.x: binary_dice_loss over softmax, one-hot targets)
# (open-mmlab/mmsegmentation, Apache-2.0). Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def binary_dice_loss(pred, target, valid_mask, smooth=1, exponent=2, **kwards):
    assert pred.shape[0] == target.shape[0]
    pred = pred.reshape(pred.shape[0], -1)
    target = target.reshape(target.shape[0], -1)
    valid_mask = valid_mask.reshape(valid_mask.shape[0], -1)

    num = torch.sum(torch.mul(pred, target) * valid_mask, dim=1) * 2 + smooth
    den = torch.sum(pred.pow(exponent) + target.pow(exponent), dim=1) + smooth

    return 1 - num / den


def dice_loss(pred, target, valid_mask, smooth: float = 1, exponent: int = 2, ignore_index: int = 255):
    assert pred.shape[0] == target.shape[0]
    pred = F.softmax(pred, dim=1)
    num_classes = pred.shape[1]
    one_hot_target = F.one_hot(torch.clamp(target.long(), 0, num_classes - 1), num_classes=num_classes)
    total_loss = 0
    for i in range(num_classes):
        if i != ignore_index:
            dice_loss = binary_dice_loss(
                pred[:, i], one_hot_target[..., i], valid_mask=valid_mask, smooth=smooth, exponent=exponent)
            total_loss += dice_loss
    return (total_loss / num_classes).mean()
