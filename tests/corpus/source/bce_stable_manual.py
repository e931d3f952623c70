# The "numerically stable" BCE-with-logits written out by hand, as in older PyTorch and many
# repositories: max_val = clamp(-x, min=0). The clamps cancel exactly:
# loss = x - x*t + log(1 + exp(-x)), a smooth function. Written for the diffcheck corpus (MIT).
import torch


def bce_with_logits_manual(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    max_val = (-input).clamp(min=0)
    loss = input - input * target + max_val + ((-max_val).exp() + (-input - max_val).exp()).log()
    return loss.mean()
