# Modeled on optax/losses/_classification.py kl_divergence and convex_kl_divergence
# (google-deepmind/optax, Apache-2.0). Rewritten for the diffcheck corpus; not a verbatim copy.
import jax.numpy as jnp


def kl_divergence(log_predictions, targets):
    loss = targets * (jnp.where(targets == 0, 0, jnp.log(targets)) - log_predictions)
    return jnp.sum(loss, axis=-1)


def convex_kl_divergence_loss(log_predictions, targets):
    return kl_divergence(log_predictions, targets) + jnp.sum(
        jnp.exp(log_predictions) - targets, axis=-1
    )
