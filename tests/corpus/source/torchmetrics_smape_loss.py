# Modeled on torchmetrics/functional/regression/symmetric_mape.py (Lightning-AI/torchmetrics,
# Apache-2.0): the sum of the symmetric absolute percentage errors over the number of
# observations, used as a loss. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
from torch import Tensor


def smape_loss(preds: Tensor, target: Tensor, epsilon: float = 1.17e-06) -> Tensor:
    abs_diff = torch.abs(preds - target)
    abs_per_error = abs_diff / torch.clamp(torch.abs(target) + torch.abs(preds), min=epsilon)
    sum_abs_per_error = 2 * torch.sum(abs_per_error)
    num_obs = target.numel()
    return sum_abs_per_error / num_obs
