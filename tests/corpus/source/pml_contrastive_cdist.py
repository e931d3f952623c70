# In the style of pytorch_metric_learning.losses.ContrastiveLoss (KevinMusgrave/pytorch-metric-learning,
# MIT): all pairs of a batch from torch.cdist, positive pairs pulled under pos_margin, negative
# pairs pushed beyond neg_margin, masks built from the labels. Written for the diffcheck corpus.
import torch
import torch.nn.functional as F


def batch_contrastive_loss(embeddings, labels, pos_margin: float = 0.0, neg_margin: float = 1.0):
    dist = torch.cdist(embeddings, embeddings, p=2)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    pos_mask = same & ~eye
    neg_mask = ~same
    pos_loss = F.relu(dist - pos_margin)[pos_mask]
    neg_loss = F.relu(neg_margin - dist)[neg_mask]
    return pos_loss.sum() / pos_mask.sum().clamp(min=1) + neg_loss.sum() / neg_mask.sum().clamp(min=1)
