# Modeled on ultralytics.utils.loss.RLELoss (ultralytics/ultralytics, AGPL-3.0; after mmpose): residual
# log-likelihood with an optional target_weight that an assert requires, in-place updates.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn


class RLELoss(nn.Module):
    """Residual log-likelihood estimation loss (Li et al. 2021) with a Laplace residual term."""

    def __init__(self, use_target_weight: bool = True, size_average: bool = True, residual: bool = True):
        super().__init__()
        self.size_average = size_average
        self.use_target_weight = use_target_weight
        self.residual = residual

    def forward(self, sigma: torch.Tensor, log_phi: torch.Tensor, error: torch.Tensor,
                target_weight: torch.Tensor = None) -> torch.Tensor:
        loss = torch.log(sigma) - log_phi.unsqueeze(1)
        if self.residual:
            loss += torch.log(sigma * 2) + torch.abs(error)
        if self.use_target_weight:
            assert target_weight is not None, "target_weight is required when use_target_weight=True"
            if target_weight.dim() == 1:
                target_weight = target_weight.unsqueeze(1)
            loss *= target_weight
        if self.size_average:
            loss /= len(loss)
        return loss.sum()
