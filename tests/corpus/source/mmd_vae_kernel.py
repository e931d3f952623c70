# Maximum mean discrepancy with a Gaussian kernel between prior samples and codes, as in
# MMD-VAE / InfoVAE code (ShengjiaZhao/MMD-Variational-Autoencoder and its PyTorch ports):
# all pairs by unsqueeze and expand. Written for the diffcheck corpus (MIT, this project).
import torch


def compute_kernel(x, y):
    x_size = x.size(0)
    y_size = y.size(0)
    dim = x.size(1)
    x = x.unsqueeze(1)  # (x_size, 1, dim)
    y = y.unsqueeze(0)  # (1, y_size, dim)
    tiled_x = x.expand(x_size, y_size, dim)
    tiled_y = y.expand(x_size, y_size, dim)
    kernel_input = (tiled_x - tiled_y).pow(2).mean(2) / dim
    return torch.exp(-kernel_input)  # (x_size, y_size)


def mmd_loss(prior_samples, codes):
    x_kernel = compute_kernel(prior_samples, prior_samples)
    y_kernel = compute_kernel(codes, codes)
    xy_kernel = compute_kernel(prior_samples, codes)
    return x_kernel.mean() + y_kernel.mean() - 2 * xy_kernel.mean()
