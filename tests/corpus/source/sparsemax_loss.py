# Sparsemax loss of Martins & Astudillo (ICML 2016) in PyTorch: the threshold tau from a sorted
# cumulative sum (the same construction as entmax/sparsemax packages). Its gradient is
# sparsemax(z) - onehot(y), a continuous function, so the loss is C1 but not C2.
# Written for the diffcheck corpus (MIT, this project).
import torch


def _sparsemax_threshold(z: torch.Tensor, dim: int = -1):
    z_sorted, _ = torch.sort(z, dim=dim, descending=True)
    cumsum = z_sorted.cumsum(dim) - 1
    k = torch.arange(1, z.size(dim) + 1, device=z.device, dtype=z.dtype)
    support = (k * z_sorted) > cumsum
    support_size = support.sum(dim=dim, keepdim=True)
    tau = cumsum.gather(dim, support_size - 1) / support_size.to(z.dtype)
    return tau, support_size


def sparsemax_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L(z, y) = -z_y + 1/2 sum_j (z_j^2 - tau^2) over the support of sparsemax(z) + 1/2."""
    tau, _ = _sparsemax_threshold(logits, dim=-1)
    p = torch.clamp(logits - tau, min=0)
    z_y = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    # on the support, z_j^2 - tau^2 = (z_j - tau) * (z_j + tau); outside it p_j = 0
    support_term = (p * (logits + tau)).sum(dim=-1)
    loss = -z_y + 0.5 * support_term + 0.5
    return loss.mean()
