# Modeled on mmdet/models/losses/balanced_l1_loss.py (open-mmlab/mmdetection, Apache-2.0):
# Libra R-CNN's balanced L1 loss, a torch.where of a log branch and a linear branch.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import numpy as np
import torch


def balanced_l1_loss(pred, target, beta: float = 1.0, alpha: float = 0.5, gamma: float = 1.5, reduction: str = "mean"):
    """Balanced L1 loss (https://arxiv.org/pdf/1904.02701.pdf).

    Args:
        pred (torch.Tensor): The prediction with shape (N, 4).
        target (torch.Tensor): The learning target of the prediction with shape (N, 4).
        beta (float): The loss is a piecewise function of prediction and target and ``beta``
            serves as a threshold for the difference between the prediction and target.
        alpha (float): The denominator ``alpha`` in the balanced L1 loss.
        gamma (float): The ``gamma`` in the balanced L1 loss.
    """
    assert beta > 0
    if target.numel() == 0:
        return pred.sum() * 0

    assert pred.size() == target.size()

    diff = torch.abs(pred - target)
    b = np.e ** (gamma / alpha) - 1
    loss = torch.where(
        diff < beta,
        alpha / b * (b * diff + 1) * torch.log(b * diff / beta + 1) - alpha * diff,
        gamma * diff + gamma / b - alpha * beta,
    )
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss
