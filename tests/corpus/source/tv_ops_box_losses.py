# A detection head's box loss in the style of torchvision's detection models and of
# YOLO/RetinaNet re-implementations that call torchvision.ops directly: predictions in
# (cx, cy, w, h), converted with box_convert, then torchvision's Complete-IoU loss beside a
# smooth L1. Written for the diffcheck corpus against torchvision.ops's public API.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import box_convert, complete_box_iou_loss


class BoxRegressionLoss(nn.Module):
    def __init__(self, beta=1.0 / 9, iou_weight=2.0):
        super().__init__()
        self.beta = beta
        self.iou_weight = iou_weight

    def forward(self, pred_cxcywh, target_xyxy):
        pred_xyxy = box_convert(pred_cxcywh, in_fmt="cxcywh", out_fmt="xyxy")
        l1 = F.smooth_l1_loss(pred_xyxy, target_xyxy, beta=self.beta, reduction="mean")
        ciou = complete_box_iou_loss(pred_xyxy, target_xyxy, reduction="mean")
        return l1 + self.iou_weight * ciou
