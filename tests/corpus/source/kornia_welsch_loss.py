# Modeled on kornia.losses.welsch (kornia/kornia, Apache-2.0): the Welsch / Leclerc robust loss with
# KORNIA_CHECK input checks, a functional form and its Module wrapper.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from torch import Tensor

from kornia.core import Module
from kornia.core.logger import KORNIA_CHECK, KORNIA_CHECK_IS_TENSOR, KORNIA_CHECK_SAME_SHAPE


def welsch_loss(img1: Tensor, img2: Tensor, reduction: str = "none") -> Tensor:
    r"""Welsch loss :math:`1 - \exp(-\tfrac{1}{2}(x - y)^2)` (Barron 2017, alpha -> -inf).

    Args:
        img1: prediction of any shape.
        img2: target of the same shape.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
    """
    KORNIA_CHECK_IS_TENSOR(img1)
    KORNIA_CHECK_IS_TENSOR(img2)
    KORNIA_CHECK_SAME_SHAPE(img1, img2)
    KORNIA_CHECK(reduction in ("mean", "sum", "none"), f"Unsupported reduction: {reduction}")

    residual = img1 - img2
    loss = 1.0 - (-0.5 * residual**2).exp()

    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


class WelschLoss(Module):
    """Module form of :func:`welsch_loss`."""

    def __init__(self, reduction: str = "none") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, img1: Tensor, img2: Tensor) -> Tensor:
        return welsch_loss(img1=img1, img2=img2, reduction=self.reduction)
