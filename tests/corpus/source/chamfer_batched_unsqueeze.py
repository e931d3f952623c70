# Batched Chamfer distance of point clouds (B, N, 3), nearest neighbours by broadcasting
# (unsqueeze(2) against unsqueeze(1)), in the style of point-cloud VAE training scripts
# found by code search. Written for the diffcheck corpus (MIT, this project).
import torch


def chamfer_distance_loss(p1, p2):
    p1 = p1.unsqueeze(2)  # [B, N, 1, 3]
    p2 = p2.unsqueeze(1)  # [B, 1, M, 3]
    dist = torch.sum((p1 - p2) ** 2, dim=-1)  # [B, N, M]
    min_dist_1 = torch.min(dist, dim=2)[0]  # [B, N]
    min_dist_2 = torch.min(dist, dim=1)[0]  # [B, M]
    return torch.mean(min_dist_1) + torch.mean(min_dist_2)
