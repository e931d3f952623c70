# Modeled on segmentation_models_pytorch.losses._functional.focal_loss_with_logits
# (qubvel-org/segmentation_models.pytorch, MIT): the reduced focal loss variant, whose focal term is
# set to 1 below a threshold by masked assignment, and the normalized / batchwise options.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import torch
import torch.nn.functional as F


def focal_loss_with_logits(output: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                           alpha: Optional[float] = 0.25, reduction: str = "mean",
                           normalized: bool = False, reduced_threshold: Optional[float] = None,
                           eps: float = 1e-6) -> torch.Tensor:
    """Binary focal loss on logits; ``reduced_threshold`` gives the reduced focal loss (Sergievskiy 2019)."""
    target = target.type(output.type())
    logpt = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    pt = torch.exp(-logpt)

    if reduced_threshold is None:
        focal_term = (1.0 - pt).pow(gamma)
    else:
        focal_term = ((1.0 - pt) / reduced_threshold).pow(gamma)
        focal_term[pt < reduced_threshold] = 1

    loss = focal_term * logpt
    if alpha is not None:
        loss *= alpha * target + (1 - alpha) * (1 - target)
    if normalized:
        loss /= focal_term.sum().clamp_min(eps)

    if reduction == "mean":
        loss = loss.mean()
    if reduction == "sum":
        loss = loss.sum()
    if reduction == "batchwise_mean":
        loss = loss.sum(0)
    return loss
