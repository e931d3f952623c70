# Modeled on torchvision.ops.generalized_box_iou_loss (pytorch/vision, BSD-3-Clause).
# Rewritten for the diffcheck corpus in the same style (helpers, unbind, masked assignment,
# _log_api_usage_once, reduction handling); not a verbatim copy.
from typing import Tuple

import torch
from torchvision.utils import _log_api_usage_once


def _upcast_non_float(t: torch.Tensor) -> torch.Tensor:
    # Protect multiplications from overflow: integer boxes become floats.
    if t.dtype not in (torch.float32, torch.float64):
        return t.float()
    return t


def _loss_inter_union(boxes1: torch.Tensor, boxes2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)

    # corners of the intersection
    left = torch.max(x1, x1g)
    top = torch.max(y1, y1g)
    right = torch.min(x2, x2g)
    bottom = torch.min(y2, y2g)

    inter = torch.zeros_like(x1)
    overlap = (bottom > top) & (right > left)
    inter[overlap] = (right[overlap] - left[overlap]) * (bottom[overlap] - top[overlap])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def generalized_box_iou_loss(
    boxes1: torch.Tensor,
    boxes2: torch.Tensor,
    reduction: str = "none",
    eps: float = 1e-7,
) -> torch.Tensor:
    """Generalized IoU loss between two aligned sets of ``(x1, y1, x2, y2)`` boxes.

    Args:
        boxes1 (Tensor[N, 4] or Tensor[4]): predicted boxes
        boxes2 (Tensor[N, 4] or Tensor[4]): target boxes
        reduction (string, optional): ``'none'`` | ``'mean'`` | ``'sum'``
        eps (float, optional): keeps the divisions finite. Default: 1e-7

    Reference:
        Hamid Rezatofighi et al.: Generalized Intersection over Union, CVPR 2019.
    """
    if not torch.jit.is_scripting() and not torch.jit.is_tracing():
        _log_api_usage_once(generalized_box_iou_loss)

    boxes1 = _upcast_non_float(boxes1)
    boxes2 = _upcast_non_float(boxes2)
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)

    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)

    # smallest box enclosing both
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    giou = iou - ((area_c - union) / (area_c + eps))

    loss = 1 - giou

    # Check reduction option and return loss accordingly
    if reduction == "none":
        pass
    elif reduction == "mean":
        loss = loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    elif reduction == "sum":
        loss = loss.sum()
    else:
        raise ValueError(
            f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction modes: 'none', 'mean', 'sum'"
        )
    return loss
