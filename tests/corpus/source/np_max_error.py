# Modeled on sklearn.metrics.max_error (scikit-learn, BSD-3-Clause). Rewritten for the corpus.
import numpy as np


def max_error(y_true, y_pred):
    return np.max(np.abs(y_true - y_pred))
