# Modeled on vae/main.py loss_function (pytorch/examples, BSD-3-Clause): reconstruction BCE plus the
# closed-form KL divergence of the Gaussian posterior. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2), see Appendix B of Kingma and Welling (2014)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD
