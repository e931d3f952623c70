# Modeled on optax.losses.softmax_cross_entropy (google-deepmind/optax, Apache-2.0) with soft
# labels, averaged over the batch. Rewritten for the diffcheck corpus.
import chex
import jax
import jax.numpy as jnp


def softmax_cross_entropy(logits: chex.Array, labels: chex.Array) -> chex.Array:
    """Cross entropy between the softmax of logits and a distribution over classes."""
    chex.assert_type([logits], float)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return jnp.mean(-jnp.sum(labels * log_probs, axis=-1))
