# In the style of pytorch_forecasting.metrics.QuantileLoss (jdb78/pytorch-forecasting, MIT):
# pinball loss for several quantiles, a loop over a tuple hyperparameter, torch.max of the two
# slopes. Written for the diffcheck corpus.
import torch
import torch.nn as nn


class QuantileLoss(nn.Module):
    def __init__(self, quantiles=(0.1, 0.5, 0.9)):
        super().__init__()
        self.quantiles = quantiles

    def forward(self, y_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # y_pred: (batch, n_quantiles), target: (batch,)
        losses = []
        for i, q in enumerate(self.quantiles):
            errors = target - y_pred[..., i]
            losses.append(torch.max((q - 1) * errors, q * errors).unsqueeze(-1))
        losses = torch.cat(losses, dim=-1)
        return losses.mean()
