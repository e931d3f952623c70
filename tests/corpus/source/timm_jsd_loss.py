# Modeled on timm/loss/jsd.py::JsdCrossEntropy (huggingface/pytorch-image-models, Apache-2.0):
# AugMix consistency loss, clean CE plus the Jensen-Shannon divergence of the splits, with the
# mixture clamped to [1e-7, 1] before the log. Rewritten for the diffcheck corpus.
import torch
import torch.nn as nn
import torch.nn.functional as F


class JsdCrossEntropy(nn.Module):
    """Jensen-Shannon divergence + cross-entropy loss (AugMix, https://arxiv.org/abs/1912.02781)."""

    def __init__(self, num_splits=3, alpha=12, smoothing=0.1):
        super().__init__()
        self.num_splits = num_splits
        self.alpha = alpha
        self.smoothing = smoothing

    def __call__(self, output, target):
        split_size = output.shape[0] // self.num_splits
        assert split_size * self.num_splits == output.shape[0]
        logits_split = torch.split(output, split_size)

        # Cross-entropy is only computed on clean images
        loss = F.cross_entropy(logits_split[0], target[:split_size], label_smoothing=self.smoothing)
        probs = [F.softmax(logits, dim=1) for logits in logits_split]

        # Clamp mixture distribution to avoid exploding KL divergence
        logp_mixture = torch.clamp(torch.stack(probs).mean(axis=0), 1e-7, 1).log()
        loss += self.alpha * sum([F.kl_div(logp_mixture, p_split, reduction="batchmean") for p_split in probs]) / len(probs)
        return loss
