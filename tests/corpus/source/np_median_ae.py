# Modeled on sklearn.metrics.median_absolute_error (scikit-learn, BSD-3-Clause). Rewritten.
import numpy as np


def median_absolute_error(y_true, y_pred):
    return np.median(np.abs(y_pred - y_true), axis=0)
