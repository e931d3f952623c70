# Modeled on sklearn/metrics/_regression.py _mean_tweedie_deviance with power=1 (Poisson deviance)
# and power=2 (Gamma deviance) (scikit-learn, BSD-3-Clause). Rewritten for the diffcheck corpus;
# not a verbatim copy.
import numpy as np
from scipy.special import xlogy


def gamma_deviance_loss(y_true, y_pred):
    dev = 2 * (np.log(y_pred / y_true) + y_true / y_pred - 1)
    return np.average(dev)
