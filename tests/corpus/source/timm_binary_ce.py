# Modeled on timm.loss.BinaryCrossEntropy (huggingface/pytorch-image-models, Apache-2.0): dense targets
# built from class indices with torch.full(...).scatter_, label smoothing, optional thresholding,
# buffers for weight / pos_weight.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class BinaryCrossEntropy(nn.Module):
    """BCE over one-vs-all targets with smoothing; targets may be class indices or dense."""

    def __init__(self, smoothing=0.1, target_threshold: Optional[float] = None,
                 weight: Optional[torch.Tensor] = None, reduction: str = "mean",
                 pos_weight: Optional[torch.Tensor] = None):
        super().__init__()
        assert 0.0 <= smoothing < 1.0
        self.smoothing = smoothing
        self.target_threshold = target_threshold
        self.reduction = reduction
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        assert x.shape[0] == target.shape[0]
        if target.shape != x.shape:
            num_classes = x.shape[-1]
            off_value = self.smoothing / num_classes
            on_value = 1.0 - self.smoothing + off_value
            index = target.long().view(-1, 1)
            target = torch.full((index.size()[0], num_classes), off_value,
                                device=x.device, dtype=x.dtype).scatter_(1, index, on_value)
        if self.target_threshold is not None:
            target = target.gt(self.target_threshold).to(dtype=target.dtype)
        return F.binary_cross_entropy_with_logits(x, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)
