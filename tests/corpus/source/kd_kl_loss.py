# Knowledge-distillation loss (Hinton et al. 2015) as written in most KD codebases:
# KL(teacher || student) at temperature T, 'batchmean', scaled by T**2; the teacher is detached.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn
import torch.nn.functional as F


class DistillKL(nn.Module):
    """Distilling the Knowledge in a Neural Network."""

    def __init__(self, T: float = 4.0):
        super(DistillKL, self).__init__()
        self.T = T

    def forward(self, y_s, y_t):
        p_s = F.log_softmax(y_s / self.T, dim=1)
        p_t = F.softmax(y_t.detach() / self.T, dim=1)
        loss = F.kl_div(p_s, p_t, reduction="batchmean") * (self.T**2)
        return loss
