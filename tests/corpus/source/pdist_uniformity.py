# Uniformity loss on the hypersphere (Wang & Isola 2020, "Understanding Contrastive
# Representation Learning through Alignment and Uniformity"): log of the mean Gaussian
# potential over all pairs of distinct rows, from torch.pdist. Restated for the diffcheck
# corpus (MIT, this project) after ssnl/align_uniform.
import torch


def uniformity_loss(embeddings, t: float = 2.0):
    sq_dists = torch.pdist(embeddings, p=2) ** 2
    return torch.log(torch.exp(-t * sq_dists).mean())
