# Modeled on utils/loss.py BCEBlurWithLogitsLoss (ultralytics/yolov5, AGPL-3.0): BCE with logits whose
# missing-label effects are damped by an exponential factor. Rewritten for the diffcheck corpus; not a
# verbatim copy.
import torch
import torch.nn as nn


class BCEBlurWithLogitsLoss(nn.Module):
    # BCEwithLogitLoss() with reduced missing label effects.
    def __init__(self, alpha=0.05):
        super().__init__()
        self.loss_fcn = nn.BCEWithLogitsLoss(reduction="none")  # must be nn.BCEWithLogitsLoss()
        self.alpha = alpha

    def forward(self, pred, true):
        loss = self.loss_fcn(pred, true)
        pred = torch.sigmoid(pred)  # prob from logits
        dx = pred - true  # reduce only missing label effects
        alpha_factor = 1 - torch.exp((dx - 1) / (self.alpha + 1e-4))
        loss *= alpha_factor
        return loss.mean()
