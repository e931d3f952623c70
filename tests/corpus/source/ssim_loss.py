# SSIM loss with a uniform 3x3 window (avg_pool2d), as in many self-supervised depth estimation
# repositories (Monodepth-style SSIM module). Constants C1, C2 keep every denominator positive.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn
import torch.nn.functional as F


class SSIMLoss(nn.Module):
    """1 - SSIM, averaged, between two image batches (B, C, H, W)."""

    def __init__(self, C1: float = 0.01**2, C2: float = 0.03**2):
        super(SSIMLoss, self).__init__()
        self.C1 = C1
        self.C2 = C2

    def forward(self, x, y):
        mu_x = F.avg_pool2d(x, 3, 1, padding=1)
        mu_y = F.avg_pool2d(y, 3, 1, padding=1)
        sigma_x = F.avg_pool2d(x**2, 3, 1, padding=1) - mu_x**2
        sigma_y = F.avg_pool2d(y**2, 3, 1, padding=1) - mu_y**2
        sigma_xy = F.avg_pool2d(x * y, 3, 1, padding=1) - mu_x * mu_y

        SSIM_n = (2 * mu_x * mu_y + self.C1) * (2 * sigma_xy + self.C2)
        SSIM_d = (mu_x**2 + mu_y**2 + self.C1) * (sigma_x + sigma_y + self.C2)
        return torch.mean(1 - SSIM_n / SSIM_d)
