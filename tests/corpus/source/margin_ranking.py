# Pairwise ranking loss through F.margin_ranking_loss: max(0, -y * (s1 - s2) + margin).
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn.functional as F


def pairwise_ranking_loss(score_pos: torch.Tensor, score_neg: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    y = torch.ones_like(score_pos)
    return F.margin_ranking_loss(score_pos, score_neg, y, margin=margin)
