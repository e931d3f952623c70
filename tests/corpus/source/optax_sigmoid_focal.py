# Modeled on optax.losses.sigmoid_focal_loss (google-deepmind/optax, Apache-2.0): the log-space focal
# weight through jax.scipy.special.logsumexp with b= weights, keyword-only alpha / gamma.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import jax
import jax.numpy as jnp
import jax.scipy.special


def sigmoid_binary_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    labels = labels.astype(logits.dtype)
    return -labels * jax.nn.log_sigmoid(logits) - (1.0 - labels) * jax.nn.log_sigmoid(-logits)


def sigmoid_focal_loss(logits: jax.Array, labels: jax.Array, *, alpha: Optional[float] = None,
                       gamma: float = 2.0) -> jax.Array:
    """Focal loss (Lin et al. 2017) with (1 - p_t)^gamma computed as exp(gamma log(1 - p_t))."""
    labels = labels.astype(logits.dtype)
    ce = sigmoid_binary_cross_entropy(logits, labels)
    log_p = jax.nn.log_sigmoid(logits)
    log_q = jax.nn.log_sigmoid(-logits)
    # log(1 - p_t) = log((1 - y) p + y (1 - p))
    log_one_minus_pt = jax.scipy.special.logsumexp(
        jnp.stack([log_p, log_q], axis=-1), axis=-1, b=jnp.stack([1 - labels, labels], axis=-1))
    loss = ce * jnp.exp(gamma * log_one_minus_pt)
    if alpha is None:
        return loss
    return (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * loss
