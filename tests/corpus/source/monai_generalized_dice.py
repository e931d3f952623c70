# Modeled on monai/losses/dice.py GeneralizedDiceLoss.forward (Project-MONAI/MONAI, Apache-2.0) with sigmoid
# activation and square weighting. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def generalized_dice_loss(input, target, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5):
    input = torch.sigmoid(input)
    reduce_axis = [0] + list(range(2, len(input.shape)))
    intersection = torch.sum(target * input, reduce_axis)
    ground_o = torch.sum(target, reduce_axis)
    pred_o = torch.sum(input, reduce_axis)
    denominator = ground_o + pred_o

    w = torch.reciprocal(ground_o.float() * ground_o.float())
    infs = torch.isinf(w)
    w[infs] = 0.0
    w = w + infs * torch.max(w)

    numer = 2.0 * (intersection * w).sum(0, keepdim=True) + smooth_nr
    denom = (denominator * w).sum(0, keepdim=True) + smooth_dr
    f = 1.0 - numer / denom
    return torch.mean(f)
