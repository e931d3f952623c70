# Text-CNN style model: Conv1d over a sequence, AdaptiveMaxPool1d(1) over time (ties between
# positions are kinks), a linear classifier. Written for the diffcheck corpus (MIT).
import torch
from torch import nn


class TextCNN(nn.Module):
    def __init__(self, in_ch: int = 4, channels: int = 6, num_classes: int = 2):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, channels, kernel_size=3)
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(x))
        return self.fc(self.pool(h).squeeze(-1))
