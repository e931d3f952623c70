# Modeled on pytorch_metric_learning losses/circle_loss.py with utils/loss_and_miner_utils.py logsumexp
# (KevinMusgrave/pytorch-metric-learning, MIT), on a given similarity matrix and pair masks.
# Rewritten for the diffcheck corpus; not a verbatim copy.
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


def circle_loss(mat, pos_mask, neg_mask, m: float = 0.4, gamma: float = 80.0):
    op, on, delta_p, delta_n = 1 + m, -m, 1 - m, m
    pos_mask_bool = pos_mask.bool()
    neg_mask_bool = neg_mask.bool()
    positive_term = -gamma * torch.relu(op - mat.detach()) * (mat - delta_p)
    negative_term = gamma * torch.relu(mat.detach() - on) * (mat - delta_n)
    new_mat = torch.where(pos_mask_bool, positive_term,
                          torch.where(neg_mask_bool, negative_term, torch.zeros_like(mat)))
    logsumexp_pos = logsumexp(new_mat, keep_mask=pos_mask_bool, add_one=False, dim=1)
    logsumexp_neg = logsumexp(new_mat, keep_mask=neg_mask_bool, add_one=False, dim=1)
    losses = torch.nn.functional.softplus(logsumexp_pos + logsumexp_neg)
    return losses.mean()
