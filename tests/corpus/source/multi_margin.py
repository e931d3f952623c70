# Multiclass hinge loss via torch.nn.functional.multi_margin_loss (Crammer-Singer style sum over
# the wrong classes). Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn.functional as F


def multiclass_hinge_loss(scores: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    return F.multi_margin_loss(scores, labels, p=1, margin=margin, reduction="mean")
