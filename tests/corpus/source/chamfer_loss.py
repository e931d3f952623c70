# Chamfer distance between two point clouds (squared Euclidean, nearest neighbour both ways),
# as in point-cloud completion code. Written for the diffcheck corpus (MIT, this project).
import torch


def chamfer_loss(pred_points: torch.Tensor, gt_points: torch.Tensor) -> torch.Tensor:
    # pred_points: (N, 3), gt_points: (M, 3)
    diff = pred_points.unsqueeze(1) - gt_points.unsqueeze(0)
    d2 = (diff**2).sum(-1)
    pred_to_gt = d2.min(dim=1).values
    gt_to_pred = d2.min(dim=0).values
    return pred_to_gt.mean() + gt_to_pred.mean()
