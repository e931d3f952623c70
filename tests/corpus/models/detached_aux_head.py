# Main head on the features and an auxiliary (probe) head on detached features, both in the
# output: every parameter still gets a gradient (the aux head from its own output, the backbone
# from the main head), so .detach() here cuts nothing. Written for the diffcheck corpus (MIT).
import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self, d_in: int = 8, d_feat: int = 16):
        super().__init__()
        self.backbone = nn.Linear(d_in, d_feat)
        self.main_head = nn.Linear(d_feat, 1)
        self.aux_head = nn.Linear(d_feat, 1)

    def forward(self, x):
        feat = torch.tanh(self.backbone(x))
        main = self.main_head(feat)
        aux = self.aux_head(feat.detach())
        return torch.cat([main, aux], dim=-1)
