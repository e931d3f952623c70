# Modeled on timm/loss/cross_entropy.py::SoftTargetCrossEntropy
# (huggingface/pytorch-image-models, Apache-2.0). Rewritten for the diffcheck corpus.
import torch
import torch.nn as nn
import torch.nn.functional as F


class SoftTargetCrossEntropy(nn.Module):
    def __init__(self):
        super(SoftTargetCrossEntropy, self).__init__()

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = torch.sum(-target * F.log_softmax(x, dim=-1), dim=-1)
        return loss.mean()
