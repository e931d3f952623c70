# Modeled on auraloss/time.py DCLoss (csteinmetz1/auraloss, Apache-2.0): the DC offset error over the
# signal power. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def dc_loss(input, target, eps: float = 1e-8):
    num = (target - input).mean(-1) ** 2
    denom = (target**2).mean(-1) + eps
    return (num / denom).mean()
