# Sequence classifier: nn.LSTM (batch_first) and a linear head on the last hidden state.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class LSTMClassifier(nn.Module):
    def __init__(self, input_size: int = 4, hidden_size: int = 8, num_layers: int = 1, num_classes: int = 3):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, (h_n, c_n) = self.lstm(x)
        return self.head(h_n[-1])
