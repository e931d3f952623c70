# Modeled on optax.losses.sigmoid_binary_cross_entropy (google-deepmind/optax, Apache-2.0):
# log_sigmoid of the logits and of their negation. Rewritten for the diffcheck corpus.
import jax
import jax.numpy as jnp


def sigmoid_binary_cross_entropy(logits, labels):
    """Element-wise sigmoid cross entropy, averaged; labels are probabilities in [0, 1]."""
    log_p = jax.nn.log_sigmoid(logits)
    # log(1 - sigmoid(x)) = log_sigmoid(-x), the latter is more numerically stable
    log_not_p = jax.nn.log_sigmoid(-logits)
    return jnp.mean(-labels * log_p - (1.0 - labels) * log_not_p)
