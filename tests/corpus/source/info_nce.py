# InfoNCE / CLIP-style symmetric contrastive loss with explicit L2 normalisation (no eps):
# defined wherever no embedding is the zero vector, and smooth there.
# Written for the diffcheck corpus (MIT, this project).
import torch
import torch.nn.functional as F


def clip_contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: float = 10.0) -> torch.Tensor:
    image_emb = image_emb / image_emb.norm(dim=-1, keepdim=True)
    text_emb = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits_per_image = logit_scale * image_emb @ text_emb.t()
    logits_per_text = logits_per_image.t()
    labels = torch.arange(image_emb.shape[0], device=image_emb.device)
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2
