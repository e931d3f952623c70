# A small image classifier in the style of the PyTorch tutorials: nn.Sequential feature
# extractor with Conv2d, BatchNorm2d, ReLU and MaxPool2d, then Flatten and Linear.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, in_ch: int = 1, width: int = 4, num_classes: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_ch, width, kernel_size=3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(width * 4 * 4, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
