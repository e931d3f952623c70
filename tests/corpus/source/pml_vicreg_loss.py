# Modeled on pytorch_metric_learning/losses/vicreg_loss.py (KevinMusgrave/pytorch-metric-learning, MIT):
# VICReg's invariance, variance and covariance terms as one function. Rewritten for the diffcheck
# corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def vicreg_loss(emb, ref_emb, invariance_lambda: float = 25.0, variance_mu: float = 25.0,
                covariance_v: float = 1.0, eps: float = 1e-4):
    invariance_loss = torch.mean((emb - ref_emb) ** 2, dim=1)
    std_emb = torch.sqrt(emb.var(dim=0) + eps)
    std_ref_emb = torch.sqrt(ref_emb.var(dim=0) + eps)
    variance_loss = F.relu(1 - std_emb) / 2 + F.relu(1 - std_ref_emb) / 2

    N, D = emb.size()
    emb = emb - emb.mean(dim=0)
    ref_emb = ref_emb - ref_emb.mean(dim=0)
    cov_emb = (emb.T @ emb) / (N - 1)
    cov_ref_emb = (ref_emb.T @ ref_emb) / (N - 1)
    diag = torch.eye(D, device=cov_emb.device)
    cov_loss = cov_emb[~diag.bool()].pow_(2).sum() / D + cov_ref_emb[~diag.bool()].pow_(2).sum() / D
    return (invariance_lambda * invariance_loss.mean() + variance_mu * variance_loss.mean()
            + covariance_v * cov_loss)
