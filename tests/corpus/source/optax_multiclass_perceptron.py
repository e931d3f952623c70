# Modeled on optax.losses.multiclass_perceptron_loss (google-deepmind/optax, Apache-2.0): jnp.max over
# classes minus the true-class score through a vectorized dot.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import jax
import jax.numpy as jnp

_rowwise_dot = jnp.vectorize(jnp.dot, signature="(n),(n)->()")


def multiclass_perceptron_loss(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """max_j s_j - s_y (Collins 2002), per example."""
    targets = jax.nn.one_hot(labels, scores.shape[-1])
    return jnp.max(scores, axis=-1) - _rowwise_dot(scores, targets)
