# Modeled on monai.losses.TverskyLoss and monai.losses.utils.compute_tp_fp_fn (Project-MONAI/MONAI,
# Apache-2.0): the soft-label form of TP/FP/FN through L1 norms over the spatial axes
# (torch.linalg.vector_norm), LossReduction, sigmoid / softmax / other_act options.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.linalg as LA
from torch.nn.modules.loss import _Loss

from monai.utils import LossReduction


def compute_tp_fp_fn(input: torch.Tensor, target: torch.Tensor, reduce_axis: list[int], ord: int,
                     soft_label: bool, decoupled: bool = True):
    """Soft TP / FP / FN; with soft labels from norms (Wang et al., Dice semimetric losses)."""
    if ord == 1 and not soft_label:
        tp = torch.sum(input * target, dim=reduce_axis)
        if decoupled:
            fp = torch.sum(input, dim=reduce_axis) - tp
            fn = torch.sum(target, dim=reduce_axis) - tp
        else:
            fp = torch.sum(input * (1 - target), dim=reduce_axis)
            fn = torch.sum((1 - input) * target, dim=reduce_axis)
        return tp, fp, fn
    pred_o = LA.vector_norm(input, ord=ord, dim=reduce_axis)
    ground_o = LA.vector_norm(target, ord=ord, dim=reduce_axis)
    difference = LA.vector_norm(input - target, ord=ord, dim=reduce_axis)
    if ord > 1:
        pred_o, ground_o, difference = pred_o**ord, ground_o**ord, difference**ord
    tp = (pred_o + ground_o - difference) / 2
    return tp, pred_o - tp, ground_o - tp


class TverskyLoss(_Loss):
    """1 - (TP + s) / (TP + alpha FP + beta FN + s) per sample and class."""

    def __init__(self, sigmoid: bool = False, softmax: bool = False, other_act: Callable | None = None,
                 alpha: float = 0.5, beta: float = 0.5, reduction: LossReduction | str = LossReduction.MEAN,
                 smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, batch: bool = False,
                 soft_label: bool = False) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if int(sigmoid) + int(softmax) + int(other_act is not None) > 1:
            raise ValueError("choose at most one of sigmoid, softmax and other_act")
        self.sigmoid = sigmoid
        self.softmax = softmax
        self.other_act = other_act
        self.alpha = alpha
        self.beta = beta
        self.smooth_nr = float(smooth_nr)
        self.smooth_dr = float(smooth_dr)
        self.batch = batch
        self.soft_label = soft_label

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.sigmoid:
            input = torch.sigmoid(input)
        if self.softmax:
            input = torch.softmax(input, 1)
        if self.other_act is not None:
            input = self.other_act(input)
        if target.shape != input.shape:
            raise AssertionError(f"shapes differ: {target.shape} vs {input.shape}")

        reduce_axis: list[int] = list(range(2, len(input.shape)))
        if self.batch:
            reduce_axis = [0] + reduce_axis
        tp, fp, fn = compute_tp_fp_fn(input, target, reduce_axis, 1, self.soft_label, False)
        fp *= self.alpha
        fn *= self.beta
        score = 1.0 - (tp + self.smooth_nr) / (tp + fp + fn + self.smooth_dr)

        if self.reduction == LossReduction.SUM.value:
            return torch.sum(score)
        if self.reduction == LossReduction.NONE.value:
            return score
        if self.reduction == LossReduction.MEAN.value:
            return torch.mean(score)
        raise ValueError(f"Unsupported reduction: {self.reduction}")
