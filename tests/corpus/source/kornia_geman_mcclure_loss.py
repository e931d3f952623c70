# Modeled on kornia/losses/cauchy.py, geman_mcclure.py and charbonnier.py (kornia/kornia, Apache-2.0):
# robust regression losses of the residual. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def geman_mcclure_loss(img: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    loss = 2.0 * (img - target) ** 2 / ((img - target) ** 2 + 4.0)
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss
