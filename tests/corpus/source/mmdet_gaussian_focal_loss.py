# Modeled on mmdet/models/losses/gaussian_focal_loss.py (open-mmlab/mmdetection, Apache-2.0):
# CenterNet's focal loss against a gaussian heatmap target. Rewritten for the diffcheck corpus;
# not a verbatim copy.
def gaussian_focal_loss(pred, gaussian_target, alpha: float = 2.0, gamma: float = 4.0,
                        pos_weight: float = 1.0, neg_weight: float = 1.0):
    eps = 1e-12
    pos_weights = gaussian_target.eq(1)
    neg_weights = (1 - gaussian_target).pow(gamma)
    pos_loss = -(pred + eps).log() * (1 - pred).pow(alpha) * pos_weights
    neg_loss = -(1 - pred + eps).log() * pred.pow(alpha) * neg_weights
    return (pos_weight * pos_loss + neg_weight * neg_loss).sum()
