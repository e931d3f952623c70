# Modeled on pytorch_toolbelt/losses/functional.py soft_jaccard_score and JaccardLoss
# (BloodAxe/pytorch-toolbelt, MIT): binary mode on sigmoid outputs. Rewritten for the diffcheck
# corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def soft_jaccard_score(output, target, smooth: float = 0.0, eps: float = 1e-7, dims=None):
    if dims is not None:
        intersection = torch.sum(output * target, dim=dims)
        cardinality = torch.sum(output + target, dim=dims)
    else:
        intersection = torch.sum(output * target)
        cardinality = torch.sum(output + target)
    union = cardinality - intersection
    jaccard_score = (intersection + smooth) / (union + smooth).clamp_min(eps)
    return jaccard_score


def jaccard_loss(y_pred, y_true, smooth: float = 0.0, eps: float = 1e-7, log_loss: bool = False):
    bs = y_true.size(0)
    y_pred = F.logsigmoid(y_pred).exp()
    y_true = y_true.view(bs, 1, -1)
    y_pred = y_pred.view(bs, 1, -1)
    scores = soft_jaccard_score(y_pred, y_true.type(y_pred.dtype), smooth=smooth, eps=eps, dims=(0, 2))
    if log_loss:
        loss = -torch.log(scores.clamp_min(eps))
    else:
        loss = 1.0 - scores
    mask = y_true.sum((0, 2)) > 0
    loss *= mask.float()
    return loss.mean()
