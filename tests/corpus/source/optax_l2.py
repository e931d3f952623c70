# Modeled on optax.losses.l2_loss / squared_error (google-deepmind/optax, Apache-2.0).
# Rewritten for the diffcheck corpus.
import jax.numpy as jnp


def squared_error(predictions, targets=None):
    errors = predictions - targets if targets is not None else predictions
    return errors**2


def l2_loss(predictions, targets=None):
    """0.5 * squared error, averaged."""
    return jnp.mean(0.5 * squared_error(predictions, targets))
