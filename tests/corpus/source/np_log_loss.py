# Modeled on sklearn.metrics.log_loss (scikit-learn, BSD-3-Clause) as it was for years: the
# predicted probabilities are clipped to [eps, 1 - eps] before the log. Rewritten for the corpus.
import numpy as np


def log_loss(y_true, y_pred, eps: float = 1e-15, normalize: bool = True):
    """Binary cross-entropy of probabilities y_pred against 0/1 labels y_true."""
    y_pred = np.clip(y_pred, eps, 1 - eps)
    loss = -(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred))
    if normalize:
        return np.mean(loss)
    return np.sum(loss)
