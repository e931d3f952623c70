# Modeled on parallel_wavegan/losses/stft_loss.py SpectralConvergengeLoss and LogSTFTMagnitudeLoss
# (kan-bayashi/ParallelWaveGAN, MIT), on magnitudes (the STFT itself left out). Rewritten for the
# diffcheck corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def log_stft_magnitude_loss(x_mag, y_mag):
    return F.l1_loss(torch.log(y_mag), torch.log(x_mag))
