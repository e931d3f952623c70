# Modeled on optax.losses.cosine_distance / cosine_similarity (google-deepmind/optax, Apache-2.0):
# squared norms clipped at epsilon before the square root. With the default epsilon = 0 the clip
# never switches (squared norms are >= 0) and the loss is smooth wherever it is defined.
# Rewritten for the diffcheck corpus.
import jax.numpy as jnp


def cosine_similarity(predictions, targets, epsilon: float = 0.0):
    a_norm2 = jnp.square(predictions).sum(axis=-1, keepdims=True)
    b_norm2 = jnp.square(targets).sum(axis=-1, keepdims=True)
    a_unit = predictions / jnp.sqrt(a_norm2.clip(epsilon))
    b_unit = targets / jnp.sqrt(b_norm2.clip(epsilon))
    return (a_unit * b_unit).sum(axis=-1)


def cosine_distance_loss(predictions, targets, epsilon: float = 0.0):
    return jnp.mean(1.0 - cosine_similarity(predictions, targets, epsilon=epsilon))
