# 1-D Wasserstein-1 distance between two equal-size samples: sort both and average the absolute
# differences (sliced-Wasserstein building block). Written for the diffcheck corpus (MIT).
import torch


def wasserstein_1d_loss(samples: torch.Tensor, target_samples: torch.Tensor) -> torch.Tensor:
    s, _ = torch.sort(samples)
    t, _ = torch.sort(target_samples)
    return torch.abs(s - t).mean()
