# A sequence classifier on torch.nn's own transformer encoder, in the style of the PyTorch
# tutorials (pytorch/tutorials, BSD-3-Clause): embedding, nn.TransformerEncoderLayer stacked by
# nn.TransformerEncoder, mean over positions, a linear head. Written for the diffcheck corpus.
import math

import torch
from torch import nn


class TransformerClassifier(nn.Module):
    def __init__(self, ntoken: int = 50, d_model: int = 8, nhead: int = 2, d_hid: int = 16,
                 nlayers: int = 1, num_classes: int = 3, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(ntoken, d_model)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.d_model = d_model
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        x = self.embedding(src) * math.sqrt(self.d_model)
        x = self.transformer_encoder(x)
        return self.head(x.mean(dim=1))
