# Modeled on parallel_wavegan/losses/stft_loss.py SpectralConvergengeLoss and LogSTFTMagnitudeLoss
# (kan-bayashi/ParallelWaveGAN, MIT), on magnitudes (the STFT itself left out). Rewritten for the
# diffcheck corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def spectral_convergence_loss(x_mag, y_mag):
    """x_mag: predicted magnitude spectrogram (B, #frames, #freq_bins); y_mag: ground truth."""
    return torch.norm(y_mag - x_mag, p="fro") / torch.norm(y_mag, p="fro")
