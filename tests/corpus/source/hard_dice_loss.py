# Dice computed on thresholded predictions (a metric used as a loss by mistake): the threshold
# makes it piecewise constant. Written for the diffcheck corpus (MIT, this project).
import torch


def hard_dice_loss(logits: torch.Tensor, mask: torch.Tensor, threshold: float = 0.5, smooth: float = 1.0):
    pred = (torch.sigmoid(logits) > threshold).float()
    inter = (pred * mask).sum()
    return 1 - (2 * inter + smooth) / (pred.sum() + mask.sum() + smooth)
