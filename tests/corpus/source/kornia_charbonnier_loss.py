# Modeled on kornia/losses/cauchy.py, geman_mcclure.py and charbonnier.py (kornia/kornia, Apache-2.0):
# robust regression losses of the residual. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def charbonnier_loss(img: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    loss = ((img - target) ** 2 + 1.0).sqrt() - 1.0
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss
