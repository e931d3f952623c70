# Modeled on auraloss/time.py ESRLoss (csteinmetz1/auraloss, Apache-2.0): the error-to-signal ratio.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def esr_loss(input, target, eps: float = 1e-8):
    num = ((target - input).abs() ** 2).sum(-1)
    denom = (target.abs() ** 2).sum(-1) + eps
    return (num / denom).mean()
