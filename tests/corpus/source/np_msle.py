# Modeled on sklearn.metrics.mean_squared_log_error (scikit-learn, BSD-3-Clause): log1p of both
# sides (defined for y_pred > -1). Rewritten for the corpus.
import numpy as np


def mean_squared_log_error(y_true, y_pred):
    return np.average((np.log1p(y_true) - np.log1p(y_pred)) ** 2, axis=0)
