# The concordance correlation coefficient loss 1 - CCC (Lin, 1989), as used to train emotion
# regression (valence/arousal) models: biased variances and covariance over the batch. Restated
# from the definition for the corpus (no licence applies to the formula).
import torch


def ccc_loss(pred, gold):
    pred_mean, gold_mean = pred.mean(), gold.mean()
    covariance = ((pred - pred_mean) * (gold - gold_mean)).mean()
    pred_var = pred.var(unbiased=False)
    gold_var = gold.var(unbiased=False)
    ccc = 2.0 * covariance / (pred_var + gold_var + (pred_mean - gold_mean) ** 2)
    return 1.0 - ccc
