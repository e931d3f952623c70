# The vectorized multiclass SVM loss of the CS231n assignments (Weston-Watkins): margins from the
# correct-class score by integer indexing, the correct class zeroed by masked assignment.
# Written for the diffcheck corpus (MIT, this project).
import torch


def svm_loss_vectorized(scores: torch.Tensor, y: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    num_train = scores.shape[0]
    rows = torch.arange(num_train)
    correct_class_scores = scores[rows, y].unsqueeze(1)
    margins = scores - correct_class_scores + delta
    margins[rows, y] = 0
    margins = torch.clamp(margins, min=0)
    return margins.sum() / num_train
