# Quantization-aware regression in JAX: predictions rounded with a straight-through estimator,
# x + stop_gradient(round(x) - x). The value is piecewise constant in x (jumps at half-integers),
# but the gradient passes straight through. Written for the diffcheck corpus (MIT, this project).
import jax
import jax.numpy as jnp


def ste_round(x):
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def quantized_mse_loss(predictions, targets):
    return jnp.mean((ste_round(predictions) - targets) ** 2)
