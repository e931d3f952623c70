# Token tagger: nn.Embedding of integer token ids (data), a bidirectional nn.GRU, a linear head
# per token. Written for the diffcheck corpus (MIT, this project).
import torch
from torch import nn


class GRUTagger(nn.Module):
    def __init__(self, vocab_size: int = 20, emb_dim: int = 6, hidden: int = 8, num_tags: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.gru = nn.GRU(emb_dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, num_tags)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(self.embed(tokens))
        return self.out(h)
