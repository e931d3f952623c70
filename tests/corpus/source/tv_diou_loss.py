# Modeled on torchvision.ops.distance_box_iou_loss (pytorch/vision, BSD-3-Clause).
# Rewritten for the diffcheck corpus in the same style; not a verbatim copy.
from typing import Tuple

import torch
from torchvision.utils import _log_api_usage_once


def _loss_inter_union(boxes1: torch.Tensor, boxes2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    left = torch.max(x1, x1g)
    top = torch.max(y1, y1g)
    right = torch.min(x2, x2g)
    bottom = torch.min(y2, y2g)
    inter = torch.zeros_like(x1)
    overlap = (bottom > top) & (right > left)
    inter[overlap] = (right[overlap] - left[overlap]) * (bottom[overlap] - top[overlap])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def _diou_iou_loss(boxes1: torch.Tensor, boxes2: torch.Tensor, eps: float = 1e-7) -> Tuple[torch.Tensor, torch.Tensor]:
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    # squared diagonal of the smallest enclosing box
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    diagonal_sq = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    # squared distance between the centres
    cx = (x1 + x2) / 2
    cy = (y1 + y2) / 2
    cxg = (x1g + x2g) / 2
    cyg = (y1g + y2g) / 2
    centre_sq = ((cx - cxg) ** 2) + ((cy - cyg) ** 2)
    loss = 1 - iou + (centre_sq / diagonal_sq)
    return loss, iou


def distance_box_iou_loss(
    boxes1: torch.Tensor,
    boxes2: torch.Tensor,
    reduction: str = "none",
    eps: float = 1e-7,
) -> torch.Tensor:
    """Distance-IoU loss (Zheng et al., AAAI 2020) for ``(x1, y1, x2, y2)`` boxes.

    Args:
        boxes1 (Tensor[N, 4]): predicted boxes
        boxes2 (Tensor[N, 4]): target boxes
        reduction (string, optional): ``'none'`` | ``'mean'`` | ``'sum'``
        eps (float, optional): small number to prevent division by zero. Default: 1e-7
    """
    if not torch.jit.is_scripting() and not torch.jit.is_tracing():
        _log_api_usage_once(distance_box_iou_loss)

    loss, _ = _diou_iou_loss(boxes1, boxes2, eps)

    if reduction == "none":
        pass
    elif reduction == "mean":
        loss = loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    elif reduction == "sum":
        loss = loss.sum()
    else:
        raise ValueError(f"Invalid Value for arg 'reduction': '{reduction}'")
    return loss
