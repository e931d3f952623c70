# Modeled on pytorch_metric_learning losses/multi_similarity_loss.py with utils/loss_and_miner_utils.py
# logsumexp (KevinMusgrave/pytorch-metric-learning, MIT), on a given similarity matrix and pair masks
# (no miner). Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def logsumexp(x, keep_mask=None, add_one=True, dim=1):
    if keep_mask is not None:
        x = x.masked_fill(~keep_mask, torch.finfo(x.dtype).min)
    if add_one:
        zeros = torch.zeros(x.size(dim - 1), dtype=x.dtype, device=x.device).unsqueeze(dim)
        x = torch.cat([x, zeros], dim=dim)
    output = torch.logsumexp(x, dim=dim, keepdim=True)
    if keep_mask is not None:
        output = output.masked_fill(~torch.any(keep_mask, dim=dim, keepdim=True), 0)
    return output


def multi_similarity_loss(mat, pos_mask, neg_mask, alpha: float = 2.0, beta: float = 50.0, base: float = 0.5):
    pos_exp = mat - base
    neg_exp = base - mat
    pos_loss = (1.0 / alpha) * logsumexp(alpha * pos_exp, keep_mask=pos_mask.bool(), add_one=True)
    neg_loss = (1.0 / beta) * logsumexp(beta * neg_exp, keep_mask=neg_mask.bool(), add_one=True)
    return (pos_loss + neg_loss).mean()
