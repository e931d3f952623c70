# Anisotropic total variation of an image batch via slicing (style transfer / denoising code).
# Written for the diffcheck corpus (MIT, this project).
import torch


def total_variation_loss(img: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    # img: (B, C, H, W)
    dh = torch.abs(img[:, :, 1:, :] - img[:, :, :-1, :]).sum()
    dw = torch.abs(img[:, :, :, 1:] - img[:, :, :, :-1]).sum()
    return weight * (dh + dw) / img.shape[0]
