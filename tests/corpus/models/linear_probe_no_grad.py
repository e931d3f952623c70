# Linear probing of a frozen encoder: the encoder runs under torch.no_grad() inside forward, so
# its parameters never receive a gradient. Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class LinearProbe(nn.Module):
    def __init__(self, d_in: int = 8, d_feat: int = 16, num_classes: int = 3):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, d_feat), nn.Tanh(), nn.Linear(d_feat, d_feat))
        self.classifier = nn.Linear(d_feat, num_classes)

    def forward(self, x):
        with torch.no_grad():
            feats = self.encoder(x)
        return self.classifier(feats)
