# Modeled on auraloss/time.py SNRLoss (csteinmetz1/auraloss, Apache-2.0): negative signal-to-noise ratio
# of zero-mean signals. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def snr_loss(input, target, eps: float = 1e-8, zero_mean: bool = True):
    if zero_mean:
        input = input - input.mean(-1, keepdim=True)
        target = target - target.mean(-1, keepdim=True)
    res = input - target
    losses = 10 * torch.log10((target**2).sum(-1) / ((res**2).sum(-1) + eps) + eps)
    return -losses.mean()
