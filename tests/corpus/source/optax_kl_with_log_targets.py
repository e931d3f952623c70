# Modeled on optax/losses/_classification.py kl_divergence and convex_kl_divergence
# (google-deepmind/optax, Apache-2.0). Rewritten for the diffcheck corpus; not a verbatim copy.
import jax.numpy as jnp


def kl_divergence_with_log_targets_loss(log_predictions, log_targets):
    loss = jnp.exp(log_targets) * (log_targets - log_predictions)
    return jnp.sum(loss, axis=-1)
