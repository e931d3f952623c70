# Modeled on mmseg/models/losses/silog_loss.py (open-mmlab/mmsegmentation, Apache-2.0): the
# scale-invariant log loss for depth estimation, invalid pixels masked out.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch


def silog_loss(pred, target, eps: float = 1e-4):
    pred, target = pred.flatten(1), target.flatten(1)
    diff_log = torch.log(target.clamp(min=eps)) - torch.log(pred.clamp(min=eps))

    valid_mask = (target > eps).detach() & (~torch.isnan(diff_log))
    diff_log[~valid_mask] = 0.0
    valid_mask = valid_mask.float()

    diff_log_sq_mean = (diff_log.pow(2) * valid_mask).sum(dim=1) / valid_mask.sum(dim=1).clamp(min=eps)
    diff_log_mean = (diff_log * valid_mask).sum(dim=1) / valid_mask.sum(dim=1).clamp(min=eps)

    loss = torch.sqrt(diff_log_sq_mean - 0.5 * diff_log_mean.pow(2))
    return loss.mean()
