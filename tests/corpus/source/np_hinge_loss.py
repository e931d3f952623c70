# Modeled on sklearn.metrics.hinge_loss (scikit-learn, BSD-3-Clause), binary case: margins,
# np.clip with out=, np.average with optional weights. Rewritten for the diffcheck corpus.
import numpy as np


def hinge_loss(y_true, pred_decision, sample_weight=None):
    """Average hinge loss (non-regularized); y_true in {-1, +1}."""
    margin = y_true * pred_decision
    losses = 1 - margin
    # The hinge_loss doesn't penalize good enough predictions.
    np.clip(losses, 0, None, out=losses)
    return np.average(losses, weights=sample_weight)
