# Modeled on main_vicreg.py::VICReg.forward (facebookresearch/vicreg, MIT): the invariance and
# variance terms of VICReg (Bardes, Ponce & LeCun, 2022), centred by the batch mean and hinged on
# the standard deviation of each feature over the batch. The covariance term (x.T @ x, a sum over
# the batch) is left out. Rewritten for the corpus.
import torch
import torch.nn.functional as F


def vicreg_variance_invariance(x, y, sim_coeff: float = 25.0, std_coeff: float = 25.0):
    invariance = F.mse_loss(x, y)
    centred_x = x - x.mean(dim=0)
    centred_y = y - y.mean(dim=0)
    spread_x = torch.sqrt(centred_x.var(dim=0) + 0.0001)
    spread_y = torch.sqrt(centred_y.var(dim=0) + 0.0001)
    variance = F.relu(1 - spread_x).mean() / 2 + F.relu(1 - spread_y).mean() / 2
    return sim_coeff * invariance + std_coeff * variance
