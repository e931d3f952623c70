# Fine-tuning with a frozen backbone, the way transfer-learning tutorials and torchvision-based
# code write it: the backbone's parameters are frozen in __init__ (requires_grad = False), the
# weights are initialised in a loop over self.modules(), and only the new head is trained. The
# head uses ReLU. Written for the diffcheck corpus (MIT, this project).
import torch.nn as nn
import torch.nn.functional as F


class FineTuner(nn.Module):
    def __init__(self, d_in: int = 8, d_feat: int = 16, num_classes: int = 3, freeze: bool = True):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Linear(d_in, d_feat), nn.GELU(), nn.Linear(d_feat, d_feat), nn.LayerNorm(d_feat))
        self.head = nn.Sequential(nn.Linear(d_feat, d_feat), nn.ReLU(), nn.Linear(d_feat, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if freeze:
            for param in self.backbone.parameters():
                param.requires_grad = False

    def forward(self, x):
        features = self.backbone(x)
        return F.log_softmax(self.head(features), dim=-1)
