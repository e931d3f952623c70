# Modeled on optax.losses.hinge_loss (google-deepmind/optax, Apache-2.0). Rewritten for the corpus.
import jax
import jax.numpy as jnp


def hinge_loss(predictor_outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Hinge loss for binary classification; targets are in {-1, 1}."""
    return jnp.maximum(0, 1 - predictor_outputs * targets).mean()
