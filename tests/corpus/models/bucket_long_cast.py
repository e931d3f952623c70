# Learned bucketing: a projection is squashed to [0, 1), scaled to bucket ids with .long(), and the
# ids index an embedding table. The integer cast passes no gradient to the projection.
# Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class BucketEmbed(nn.Module):
    def __init__(self, d_in: int = 4, num_buckets: int = 10, dim: int = 3):
        super().__init__()
        self.proj = nn.Linear(d_in, 1)
        self.table = nn.Embedding(num_buckets, dim)
        self.num_buckets = num_buckets

    def forward(self, x):
        u = torch.sigmoid(self.proj(x)).squeeze(-1)
        ids = (u * self.num_buckets).long().clamp(max=self.num_buckets - 1)
        return self.table(ids)
