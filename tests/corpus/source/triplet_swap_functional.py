# torch.nn.functional.triplet_margin_loss with swap=True (Balntas et al. 2016): the negative
# distance is the smaller of d(a, n) and d(p, n). Written for the diffcheck corpus (MIT).
import torch
import torch.nn.functional as F


def triplet_swap_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 1.0):
    return F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=2, eps=1e-6, swap=True, reduction="mean")
