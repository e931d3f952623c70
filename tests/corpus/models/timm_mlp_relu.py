# Modeled on timm.layers.mlp.Mlp (huggingface/pytorch-image-models, Apache-2.0): fc1, act_layer,
# dropout, optional norm, fc2, with ReLU as the activation. Rewritten for the diffcheck corpus.
from functools import partial

from torch import nn


class Mlp(nn.Module):
    """MLP as used in Vision Transformer, MLP-Mixer and related networks."""

    def __init__(
        self,
        in_features: int = 8,
        hidden_features: int = 16,
        out_features: int = 4,
        act_layer=nn.ReLU,
        norm_layer=None,
        bias: bool = True,
        drop: float = 0.1,
    ):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        linear_layer = partial(nn.Linear)

        self.fc1 = linear_layer(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.norm = norm_layer(hidden_features) if norm_layer is not None else nn.Identity()
        self.fc2 = linear_layer(hidden_features, out_features, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop1(x)
        x = self.norm(x)
        x = self.fc2(x)
        x = self.drop2(x)
        return x
