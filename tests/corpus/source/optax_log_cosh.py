# Modeled on optax.losses.log_cosh (google-deepmind/optax, Apache-2.0): logaddexp(e, -e) - log 2.
# Rewritten for the diffcheck corpus.
import jax.numpy as jnp


def log_cosh(predictions, targets=None):
    errors = (predictions - targets) if (targets is not None) else predictions
    # log(cosh(x)) = log((exp(x) + exp(-x))/2) = log(exp(x) + exp(-x)) - log(2)
    return jnp.mean(jnp.logaddexp(errors, -errors) - jnp.log(2.0))
