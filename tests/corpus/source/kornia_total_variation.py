# Modeled on kornia.losses.total_variation (kornia/kornia, Apache-2.0): anisotropic total variation
# with rank-dependent slicing (CHW or BCHW) and a Module wrapper.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Sum of absolute differences of neighbouring pixels, per image."""
    if not torch.is_tensor(img):
        raise TypeError(f"expected a Tensor, got {type(img)}")
    rank = len(img.shape)
    if rank == 3:
        d_rows = img[:, 1:, :] - img[:, :-1, :]
        d_cols = img[:, :, 1:] - img[:, :, :-1]
        axes = (0, 1, 2)
    elif rank == 4:
        d_rows = img[:, :, 1:, :] - img[:, :, :-1, :]
        d_cols = img[:, :, :, 1:] - img[:, :, :, :-1]
        axes = (1, 2, 3)
    else:
        raise ValueError(f"expected rank 3 or 4, got {rank}")
    return d_rows.abs().sum(dim=axes) + d_cols.abs().sum(dim=axes)


class TotalVariation(nn.Module):
    """Module form of :func:`total_variation`."""

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return total_variation(img)
