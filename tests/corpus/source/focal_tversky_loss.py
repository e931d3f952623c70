# In the style of segmentation_models_pytorch/losses/tversky.py (MIT): a Tversky loss that
# subclasses a Dice loss and overrides aggregate_loss / compute_score. Written for the corpus.
import torch
import torch.nn as nn


class BaseDiceLoss(nn.Module):
    def __init__(self, smooth: float = 1.0, eps: float = 1e-7):
        super().__init__()
        self.smooth = smooth
        self.eps = eps

    def aggregate_loss(self, loss):
        return loss.mean()

    def compute_score(self, output, target, dims=None):
        intersection = torch.sum(output * target, dim=dims)
        cardinality = torch.sum(output + target, dim=dims)
        return (2.0 * intersection + self.smooth) / (cardinality + self.smooth + self.eps)

    def forward(self, y_pred, y_true):
        y_pred = torch.sigmoid(y_pred)
        scores = self.compute_score(y_pred, y_true, dims=(0, 2))
        loss = 1.0 - scores
        return self.aggregate_loss(loss)


class FocalTverskyLoss(BaseDiceLoss):
    """Tversky index with alpha/beta trade-off, raised to the power gamma (focal Tversky)."""

    def __init__(self, smooth: float = 1.0, eps: float = 1e-7, alpha: float = 0.3, beta: float = 0.7, gamma: float = 2.0):
        super().__init__(smooth=smooth, eps=eps)
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma

    def aggregate_loss(self, loss):
        return loss.mean() ** self.gamma

    def compute_score(self, output, target, dims=None):
        intersection = torch.sum(output * target, dim=dims)  # TP
        fp = torch.sum(output * (1.0 - target), dim=dims)
        fn = torch.sum((1 - output) * target, dim=dims)
        return (intersection + self.smooth) / (intersection + self.alpha * fp + self.beta * fn + self.smooth + self.eps)
