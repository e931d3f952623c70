# torch.nn.CosineEmbeddingLoss written out (as in many retrieval codebases): 1 - cos for similar
# pairs, max(0, cos - margin) for dissimilar ones, with torch.where on the +1/-1 labels.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn.functional as F


def cosine_embedding_loss(x1, x2, y, margin: float = 0.0):
    cos = F.cosine_similarity(x1, x2, dim=1, eps=1e-8)
    pos = 1.0 - cos
    neg = torch.clamp(cos - margin, min=0.0)
    loss = torch.where(y == 1, pos, neg)
    return loss.mean()
