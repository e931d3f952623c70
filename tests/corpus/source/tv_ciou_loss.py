# Modeled on torchvision.ops.complete_box_iou_loss (pytorch/vision, BSD-3-Clause).
# Rewritten for the diffcheck corpus in the same style (torch.no_grad() around the
# trade-off weight alpha, as in the original); not a verbatim copy.
import math
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
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    diagonal_sq = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    cx = (x1 + x2) / 2
    cy = (y1 + y2) / 2
    cxg = (x1g + x2g) / 2
    cyg = (y1g + y2g) / 2
    centre_sq = ((cx - cxg) ** 2) + ((cy - cyg) ** 2)
    return 1 - iou + (centre_sq / diagonal_sq), iou


def complete_box_iou_loss(
    boxes1: torch.Tensor,
    boxes2: torch.Tensor,
    reduction: str = "none",
    eps: float = 1e-7,
) -> torch.Tensor:
    """Complete-IoU loss: DIoU plus an aspect-ratio consistency term.

    Reference:
        Zhaohui Zheng et al.: Enhancing Geometric Factors in Model Learning and
        Inference for Object Detection and Instance Segmentation.
    """
    if not torch.jit.is_scripting() and not torch.jit.is_tracing():
        _log_api_usage_once(complete_box_iou_loss)

    diou_loss, iou = _diou_iou_loss(boxes1, boxes2, eps)

    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)

    w_pred = x2 - x1
    h_pred = y2 - y1
    w_gt = x2g - x1g
    h_gt = y2g - y1g
    v = (4 / (math.pi**2)) * torch.pow(torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)

    loss = diou_loss + alpha * v

    if reduction == "none":
        pass
    elif reduction == "mean":
        loss = loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    elif reduction == "sum":
        loss = loss.sum()
    else:
        raise ValueError(f"Invalid Value for arg 'reduction': '{reduction}'")
    return loss
