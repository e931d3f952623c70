# Modeled on sklearn/metrics/_regression.py mean_absolute_percentage_error (scikit-learn, BSD-3-Clause),
# the numpy reference. Rewritten for the diffcheck corpus; not a verbatim copy.
import numpy as np


def mape_loss(y_true, y_pred):
    epsilon = np.finfo(np.float64).eps
    mape = np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), epsilon)
    return np.average(mape)
