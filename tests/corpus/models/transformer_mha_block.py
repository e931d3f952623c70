# A post-norm transformer encoder block with nn.MultiheadAttention (as in
# torch.nn.TransformerEncoderLayer with activation="gelu"), written out.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class EncoderBlock(nn.Module):
    def __init__(self, d_model: int = 8, nhead: int = 2, dim_feedforward: int = 16, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.activation = nn.GELU()

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        attn_out, _ = self.self_attn(src, src, src, need_weights=False)
        x = self.norm1(src + self.dropout(attn_out))
        x = self.norm2(x + self.linear2(self.dropout(self.activation(self.linear1(x)))))
        return x
