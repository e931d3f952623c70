# Modeled on optax.losses.kl_divergence / generalized_kl_divergence (google-deepmind/optax,
# Apache-2.0): a where() guarding log(0) of the targets, axis / where arguments, a helper call.
# Rewritten for the diffcheck corpus; not a verbatim copy.
from typing import Optional, Union

import jax
import jax.numpy as jnp


def kl_divergence(log_predictions: jax.Array, targets: jax.Array,
                  axis: Union[int, tuple, None] = -1, where: Optional[jax.Array] = None) -> jax.Array:
    """KL(targets || predictions) with predictions given as log-probabilities."""
    safe_log_t = jnp.where(targets == 0, 0, jnp.log(targets))
    return jnp.sum(targets * (safe_log_t - log_predictions), axis=axis, where=where)


def generalized_kl_divergence(log_predictions: jax.Array, targets: jax.Array,
                              axis: Union[int, tuple, None] = -1,
                              where: Optional[jax.Array] = None) -> jax.Array:
    """Bregman divergence of x log x - x: KL plus the difference of the total masses."""
    kl = kl_divergence(log_predictions, targets, axis=axis, where=where)
    mass = jnp.sum(jnp.exp(log_predictions) - targets, axis=axis, where=where)
    return kl + mass
