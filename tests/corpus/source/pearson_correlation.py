# The negative Pearson correlation over the batch as a regression loss, as it is commonly written
# in PyTorch code (centred predictions and targets, an eps in the denominator). Restated from the
# textbook definition for the corpus (no licence applies to the formula).
import torch


def pearson_correlation_loss(pred, target, eps: float = 1e-8):
    vx = pred - torch.mean(pred)
    vy = target - torch.mean(target)
    correlation = torch.sum(vx * vy) / (
        torch.sqrt(torch.sum(vx ** 2)) * torch.sqrt(torch.sum(vy ** 2)) + eps)
    return 1 - correlation
