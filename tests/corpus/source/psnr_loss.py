# Modeled on kornia.losses.psnr_loss / kornia.metrics.psnr (kornia/kornia, Apache-2.0):
# negative PSNR, 10 * log10(max_val**2 / mse). Rewritten for the diffcheck corpus.
import torch
import torch.nn.functional as F


def psnr(image: torch.Tensor, target: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    if image.shape != target.shape:
        raise TypeError(f"Expected tensors of equal shapes, but got {image.shape} and {target.shape}")
    return 10.0 * torch.log10(max_val**2 / F.mse_loss(image, target, reduction="mean"))


def psnr_loss(image: torch.Tensor, target: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    r"""Negative PSNR: minimising it maximises the peak signal-to-noise ratio."""
    return -1.0 * psnr(image, target, max_val)
