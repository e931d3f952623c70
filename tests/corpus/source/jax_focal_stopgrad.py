# A binary focal loss in JAX whose modulating factor is computed under jax.lax.stop_gradient
# (a trick some detection codebases use to keep the focal weight out of the backward pass).
# Written for the diffcheck corpus (MIT, this project).
import jax
import jax.numpy as jnp


def focal_loss_stopgrad(logits, labels, gamma: float = 2.0, alpha: float = 0.25):
    p = jax.nn.sigmoid(logits)
    ce = -(labels * jax.nn.log_sigmoid(logits) + (1 - labels) * jax.nn.log_sigmoid(-logits))
    p_t = p * labels + (1 - p) * (1 - labels)
    modulating = jax.lax.stop_gradient((1 - p_t) ** gamma)
    alpha_t = alpha * labels + (1 - alpha) * (1 - labels)
    return jnp.sum(alpha_t * modulating * ce) / jnp.maximum(jnp.sum(labels), 1.0)
