# Isotropic total variation with a Charbonnier-style eps inside the square root, per pixel.
# Written for the diffcheck corpus (MIT, this project).
import torch


def isotropic_tv_loss(img: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    dx = img[:, :, :-1, 1:] - img[:, :, :-1, :-1]
    dy = img[:, :, 1:, :-1] - img[:, :, :-1, :-1]
    return torch.sqrt(dx**2 + dy**2 + eps).mean()
