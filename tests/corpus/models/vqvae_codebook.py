# A VQ-VAE bottleneck in the style of the common PyTorch VQ-VAE implementations (van den Oord
# et al. 2017): nearest codebook entry by argmin of distances, lookup with nn.Embedding, and the
# straight-through trick z + (z_q - z).detach(). This forward returns only the reconstruction, so
# the codebook is reached by no gradient (it is trained by a codebook loss elsewhere).
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int = 8, dim: int = 4):
        super().__init__()
        self.codebook = nn.Embedding(num_codes, dim)

    def forward(self, z):
        # squared distances to every code: |z|^2 - 2 z.e + |e|^2
        d = (z**2).sum(dim=1, keepdim=True) - 2 * z @ self.codebook.weight.t() + (self.codebook.weight**2).sum(dim=1)
        indices = torch.argmin(d, dim=1)
        z_q = self.codebook(indices)
        # straight-through estimator: the value is z_q, the gradient goes to z
        return z + (z_q - z).detach()


class VQVAE(nn.Module):
    def __init__(self, d_in: int = 6, dim: int = 4, num_codes: int = 8):
        super().__init__()
        self.encoder = nn.Linear(d_in, dim)
        self.quantizer = VectorQuantizer(num_codes, dim)
        self.decoder = nn.Linear(dim, d_in)

    def forward(self, x):
        z = self.encoder(x)
        z_q = self.quantizer(z)
        return self.decoder(z_q)
