"""A sample model for diffcheck: `diffcheck samples/model.py::Classifier` checks its forward with
respect to its parameters; `--loss samples/losses.py::smooth_l1_loss` checks a loss on top."""

import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, d_in: int = 16, hidden: int = 32, classes: int = 4):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)
        self.aux = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # left over from a linear-probe experiment: the backbone never learns
        with torch.no_grad():
            features = self.backbone(x)
        return self.head(features) + 0.1 * self.aux(features)
