# Modeled on the Lovasz-Softmax reference implementation, lovasz_losses.py
# (bermanmaxim/LovaszSoftmax, MIT): lovasz_softmax_flat over the classes present, applied
# to softmax probabilities computed from logits. Rewritten for the corpus; labels are cast to
# the probabilities' dtype (the reference's .float() breaks torch.dot in float64).
import torch
import torch.nn.functional as F


def lovasz_grad(gt_sorted):
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def lovasz_softmax_loss(logits, labels, num_classes: int = 3):
    """Multi-class Lovasz-Softmax loss on flattened predictions.

    logits: [P, C] class scores; labels: [P] integer ground truth in [0, C-1]
    """
    probas = F.softmax(logits, dim=1)
    losses = []
    for c in range(num_classes):
        fg = (labels == c).to(probas.dtype)  # foreground for class c
        class_pred = probas[:, c]
        errors = (fg - class_pred).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        fg_sorted = fg[perm]
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg_sorted)))
    return torch.stack(losses).mean()
