# Huber / smooth-L1 through the torch.nn.functional losses themselves, with their keyword
# arguments; a module whose mode is a string hyperparameter. Written for the diffcheck corpus.
import torch
import torch.nn as nn
import torch.nn.functional as F


class RobustRegressionLoss(nn.Module):
    def __init__(self, kind: str = "huber", delta: float = 1.0, beta: float = 0.5, reduction: str = "mean"):
        super().__init__()
        self.kind = kind
        self.delta = delta
        self.beta = beta
        self.reduction = reduction

    def forward(self, pred, target):
        if self.kind == "huber":
            loss = F.huber_loss(pred, target, reduction=self.reduction, delta=self.delta)
        elif self.kind == "smooth_l1":
            loss = F.smooth_l1_loss(pred, target, reduction=self.reduction, beta=self.beta)
        else:
            loss = F.l1_loss(pred, target, reduction=self.reduction)
        return loss
