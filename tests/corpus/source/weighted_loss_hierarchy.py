# A small loss class hierarchy as found in many training frameworks: a base class owns the
# reduction and the weight (self._reduce), subclasses implement elementwise(). Two subclasses,
# one smooth (log-cosh) and one with a kink (L1); the case checks WeightedL1Loss.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn


class _WeightedLoss(nn.Module):
    def __init__(self, loss_weight: float = 1.0, reduction: str = "mean"):
        super().__init__()
        self.loss_weight = loss_weight
        self.reduction = reduction

    def _reduce(self, loss: torch.Tensor) -> torch.Tensor:
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss

    def elementwise(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * self._reduce(self.elementwise(pred, target))


class WeightedLogCoshLoss(_WeightedLoss):
    def elementwise(self, pred, target):
        return torch.log(torch.cosh(pred - target))


class WeightedL1Loss(_WeightedLoss):
    def elementwise(self, pred, target):
        return (pred - target).abs()
