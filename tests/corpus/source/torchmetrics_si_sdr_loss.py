# Modeled on torchmetrics.functional.audio.sdr.scale_invariant_signal_distortion_ratio
# (Lightning-AI/torchmetrics, Apache-2.0), negated as a training loss. Rewritten for the diffcheck
# corpus; not a verbatim copy.
import torch


def si_sdr_loss(preds, target, zero_mean: bool = False):
    eps = torch.finfo(preds.dtype).eps

    if zero_mean:
        target = target - torch.mean(target, dim=-1, keepdim=True)
        preds = preds - torch.mean(preds, dim=-1, keepdim=True)

    alpha = (torch.sum(preds * target, dim=-1, keepdim=True) + eps) / (
        torch.sum(target**2, dim=-1, keepdim=True) + eps
    )
    target_scaled = alpha * target

    noise = target_scaled - preds

    val = (torch.sum(target_scaled**2, dim=-1) + eps) / (torch.sum(noise**2, dim=-1) + eps)
    return -(10 * torch.log10(val)).mean()
