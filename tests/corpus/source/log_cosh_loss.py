# Log-cosh regression loss, written with the numerically stable identity
# log(cosh(x)) = x + softplus(-2x) - log(2). Written for the diffcheck corpus (MIT, this project).
import math

import torch
import torch.nn.functional as F


def log_cosh_loss(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    def _log_cosh(x: torch.Tensor) -> torch.Tensor:
        return x + F.softplus(-2.0 * x) - math.log(2.0)

    return torch.mean(_log_cosh(y_pred - y_true))
