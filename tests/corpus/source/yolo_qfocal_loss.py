# Modeled on utils/loss.py QFocalLoss (ultralytics/yolov5, AGPL-3.0): quality focal loss wrapped
# around a BCEWithLogitsLoss module stored in __init__. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn


class QFocalLoss(nn.Module):
    # Wraps quality focal loss around an existing loss_fcn(), e.g. QFocalLoss(nn.BCEWithLogitsLoss(), gamma=1.5)
    def __init__(self, loss_fcn=nn.BCEWithLogitsLoss(), gamma=1.5, alpha=0.25):
        super().__init__()
        self.loss_fcn = loss_fcn  # must be nn.BCEWithLogitsLoss()
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = loss_fcn.reduction
        self.loss_fcn.reduction = "none"  # needed to weight each element

    def forward(self, pred, true):
        loss = self.loss_fcn(pred, true)
        pred_prob = torch.sigmoid(pred)  # probabilities from logits
        alpha_factor = true * self.alpha + (1 - true) * (1 - self.alpha)
        modulating_factor = torch.abs(true - pred_prob) ** self.gamma
        loss *= alpha_factor * modulating_factor
        if self.reduction == "mean":
            return loss.mean()
        elif self.reduction == "sum":
            return loss.sum()
        else:  # 'none'
            return loss
