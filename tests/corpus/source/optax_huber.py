# Modeled on optax.losses.huber_loss (google-deepmind/optax, Apache-2.0): min(|e|, delta) split
# into a quadratic and a linear part. Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional

import jax
import jax.numpy as jnp


def huber_loss(
    predictions: jax.typing.ArrayLike,
    targets: Optional[jax.typing.ArrayLike] = None,
    delta: float = 1.0,
) -> jax.Array:
    """Huber loss: quadratic within delta of the target, linear beyond."""
    predictions = jnp.asarray(predictions)
    errors = (predictions - targets) if (targets is not None) else predictions
    abs_errors = jnp.abs(errors)
    quadratic = jnp.minimum(abs_errors, delta)
    # max(|e| - delta, 0) written as a difference, so the gradient is not doubled
    linear = abs_errors - quadratic
    return jnp.mean(0.5 * quadratic**2 + delta * linear)
