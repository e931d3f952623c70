# Modeled on sklearn.metrics.brier_score_loss (scikit-learn, BSD-3-Clause): the mean squared
# difference between predicted probabilities and 0/1 outcomes. Rewritten for the corpus.
import numpy as np


def brier_score_loss(y_true, y_prob, sample_weight=None):
    return np.average((y_true - y_prob) ** 2, weights=sample_weight)
