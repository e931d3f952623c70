# Jensen-Shannon divergence between two predicted categorical distributions (consistency
# regularisation), written with log-softmax and the mixture. Written for the diffcheck corpus.
import torch
import torch.nn.functional as F


def js_divergence_loss(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    p = F.softmax(logits_p, dim=-1)
    q = F.softmax(logits_q, dim=-1)
    m = 0.5 * (p + q)
    log_m = torch.log(m)
    kl_pm = (p * (F.log_softmax(logits_p, dim=-1) - log_m)).sum(-1)
    kl_qm = (q * (F.log_softmax(logits_q, dim=-1) - log_m)).sum(-1)
    return (0.5 * (kl_pm + kl_qm)).mean()
