# Zero-one loss of a linear classifier's scores (sklearn.metrics.zero_one_loss on sign(scores)):
# piecewise constant. Written for the diffcheck corpus (MIT, this project).
import numpy as np


def zero_one_loss(y_true, scores):
    y_pred = np.where(scores >= 0, 1, -1)
    return np.mean(y_pred != y_true)
