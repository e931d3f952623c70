# NT-Xent (SimCLR, Chen et al. 2020) as written in most SimCLR re-implementations:
# F.normalize, a 2N x 2N similarity matrix, the diagonal masked out, cross-entropy on the positive.
# F.normalize divides by max(||z||, eps): a kink on the sphere ||z|| = eps.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn as nn
import torch.nn.functional as F


class NTXentLoss(nn.Module):
    def __init__(self, temperature: float = 0.5):
        super().__init__()
        self.temperature = temperature

    def forward(self, z_i: torch.Tensor, z_j: torch.Tensor) -> torch.Tensor:
        batch_size = z_i.shape[0]
        z = torch.cat([z_i, z_j], dim=0)
        z = F.normalize(z, dim=1)
        sim = torch.matmul(z, z.T) / self.temperature
        self_mask = torch.eye(2 * batch_size, dtype=torch.bool, device=z.device)
        sim = sim.masked_fill(self_mask, -1e9)
        targets = torch.cat([torch.arange(batch_size, 2 * batch_size), torch.arange(0, batch_size)]).to(z.device)
        return F.cross_entropy(sim, targets)
