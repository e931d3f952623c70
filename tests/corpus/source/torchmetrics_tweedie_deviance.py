# Modeled on torchmetrics/functional/regression/tweedie_deviance.py _tweedie_deviance_score_update
# (Lightning-AI/torchmetrics, Apache-2.0), the general-power branch (1 < power < 2, compound
# Poisson-gamma). Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
from torch import Tensor


def tweedie_deviance_loss(preds: Tensor, targets: Tensor, power: float = 1.5) -> Tensor:
    term_1 = torch.pow(torch.clamp(targets, min=0), 2 - power) / ((1 - power) * (2 - power))
    term_2 = targets * torch.pow(preds, 1 - power) / (1 - power)
    term_3 = torch.pow(preds, 2 - power) / (2 - power)
    deviance_score = 2 * (term_1 - term_2 + term_3)
    return torch.sum(deviance_score) / torch.tensor(preds.numel())
