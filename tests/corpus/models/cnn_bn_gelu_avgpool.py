# The smooth twin of SmallCNN: GELU and average pooling instead of ReLU and max pooling.
# BatchNorm in training mode normalises with batch statistics and eps > 0: smooth.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn
import torch.nn.functional as F


class SmoothCNN(nn.Module):
    def __init__(self, in_ch: int = 1, width: int = 4, num_classes: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, width, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(width * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.bn(self.conv(x)))
        x = self.pool(x)
        return self.fc(torch.flatten(x, 1))
