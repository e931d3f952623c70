# Modeled on lightly.loss.NTXentLoss (lightly-ai/lightly, MIT): a subclass of the library's
# MemoryBankModule whose forward asks super(...).forward for negatives, einsum similarities, the
# diagonal masked out, labels from arange / zeros(dtype=long), nn.CrossEntropyLoss.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
from torch import nn

from lightly.loss.memory_bank import MemoryBankModule


class NTXentLoss(MemoryBankModule):
    """SimCLR contrastive loss; with a memory bank (size > 0) the MoCo variant."""

    def __init__(self, temperature: float = 0.5, memory_bank_size: int = 0):
        super(NTXentLoss, self).__init__(size=memory_bank_size)
        self.temperature = temperature
        self.cross_entropy = nn.CrossEntropyLoss(reduction="mean")
        self.eps = 1e-8
        if abs(self.temperature) < self.eps:
            raise ValueError(f"temperature too small: {self.temperature}")

    def forward(self, out0: torch.Tensor, out1: torch.Tensor):
        device = out0.device
        batch_size, _ = out0.shape

        out0 = nn.functional.normalize(out0, dim=1)
        out1 = nn.functional.normalize(out1, dim=1)

        # the bank returns out1 and, when it is enabled, a (dim, size) matrix of negatives
        out1, negatives = super(NTXentLoss, self).forward(out1, update=out0.requires_grad)

        if negatives is not None:
            negatives = negatives.to(device)
            sim_pos = torch.einsum("nc,nc->n", out0, out1).unsqueeze(-1)
            sim_neg = torch.einsum("nc,ck->nk", out0, negatives)
            logits = torch.cat([sim_pos, sim_neg], dim=1) / self.temperature
            labels = torch.zeros(logits.shape[0], device=device, dtype=torch.long)
        else:
            diag_mask = torch.eye(batch_size, device=out0.device, dtype=torch.bool)
            logits_00 = torch.einsum("nc,mc->nm", out0, out0) / self.temperature
            logits_01 = torch.einsum("nc,mc->nm", out0, out1) / self.temperature
            logits_10 = torch.einsum("nc,mc->nm", out1, out0) / self.temperature
            logits_11 = torch.einsum("nc,mc->nm", out1, out1) / self.temperature
            logits_00 = logits_00[~diag_mask].view(batch_size, -1)
            logits_11 = logits_11[~diag_mask].view(batch_size, -1)
            logits = torch.cat([torch.cat([logits_01, logits_00], dim=1),
                                torch.cat([logits_10, logits_11], dim=1)], dim=0)
            labels = torch.arange(batch_size, device=device, dtype=torch.long).repeat(2)

        return self.cross_entropy(logits, labels)
