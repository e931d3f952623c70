# Modeled on sklearn.metrics.mean_pinball_loss (scikit-learn, BSD-3-Clause): the sign indicator
# (diff >= 0) times diff, which is continuous with a kink at diff = 0. Rewritten for the corpus.
import numpy as np


def mean_pinball_loss(y_true, y_pred, alpha: float = 0.5):
    diff = y_true - y_pred
    sign = (diff >= 0).astype(diff.dtype)
    loss = alpha * sign * diff - (1 - alpha) * (1 - sign) * diff
    output_errors = np.average(loss, axis=0)
    return np.average(output_errors)
