# Wing loss for facial landmark regression (Feng et al., CVPR 2018), as commonly written in
# PyTorch landmark repositories. Written for the diffcheck corpus (MIT, this project).
import math

import torch
import torch.nn as nn


class WingLoss(nn.Module):
    def __init__(self, omega: float = 10.0, epsilon: float = 2.0):
        super(WingLoss, self).__init__()
        self.omega = omega
        self.epsilon = epsilon

    def forward(self, pred, target):
        y = target
        y_hat = pred
        delta_y = (y - y_hat).abs()
        delta_y1 = delta_y[delta_y < self.omega]
        delta_y2 = delta_y[delta_y >= self.omega]
        loss1 = self.omega * torch.log(1 + delta_y1 / self.epsilon)
        C = self.omega - self.omega * math.log(1 + self.omega / self.epsilon)
        loss2 = delta_y2 - C
        return (loss1.sum() + loss2.sum()) / (len(loss1) + len(loss2))
