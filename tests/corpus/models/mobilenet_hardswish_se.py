# Modeled on torchvision's MobileNetV3 inverted residual with squeeze-excitation
# (pytorch/vision, BSD-3-Clause): Hardswish activation, SE with ReLU and Hardsigmoid.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
from torch import nn
import torch.nn.functional as F


class SqueezeExcitation(nn.Module):
    def __init__(self, input_channels: int, squeeze_channels: int):
        super().__init__()
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def _scale(self, input):
        scale = F.adaptive_avg_pool2d(input, 1)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input):
        scale = self._scale(input)
        return scale * input


class InvertedResidual(nn.Module):
    def __init__(self, channels: int = 4, expanded: int = 8):
        super().__init__()
        self.expand = nn.Conv2d(channels, expanded, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(expanded)
        self.act = nn.Hardswish()
        self.se = SqueezeExcitation(expanded, 4)
        self.project = nn.Conv2d(expanded, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = self.act(self.bn1(self.expand(x)))
        h = self.se(h)
        return x + self.bn2(self.project(h))
