# Cosine distance 1 - cos(pred, target) through F.cosine_similarity, the usual one-liner of
# embedding-regression code. PyTorch divides by max(||x||, eps) for each input, so the loss has a
# kink on the sphere ||pred|| = eps. Written for the diffcheck corpus (MIT, this project).
import torch.nn.functional as F


def cosine_distance_loss(pred, target, eps: float = 1e-8):
    return (1 - F.cosine_similarity(pred, target, dim=-1, eps=eps)).mean()
