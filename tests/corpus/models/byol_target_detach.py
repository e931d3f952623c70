# BYOL-style online/target pair (Grill et al. 2020): the target network's projection is detached,
# as its weights are updated by a moving average, not by gradients. With wrt = params, every
# target_net parameter is cut by the .detach(). Written for the diffcheck corpus (MIT).
import torch
from torch import nn


class OnlineTarget(nn.Module):
    def __init__(self, d_in: int = 8, d_proj: int = 4):
        super().__init__()
        self.online = nn.Sequential(nn.Linear(d_in, 16), nn.Tanh(), nn.Linear(16, d_proj))
        self.predictor = nn.Linear(d_proj, d_proj)
        self.target_net = nn.Sequential(nn.Linear(d_in, 16), nn.Tanh(), nn.Linear(16, d_proj))

    def forward(self, x):
        online_pred = self.predictor(self.online(x))
        target_proj = self.target_net(x).detach()
        return online_pred - target_proj
