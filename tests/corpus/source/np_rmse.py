# Root mean squared error as a loss (sklearn.metrics.root_mean_squared_error style): the square
# root of a sum of squares is a norm, with a cone at y_pred = y_true. Written for the corpus.
import numpy as np


def root_mean_squared_error(y_true, y_pred):
    output_errors = np.sqrt(np.average((y_true - y_pred) ** 2, axis=0))
    return np.average(output_errors)
