# Perceptron loss max(0, -y * f) (optax.losses.perceptron_loss style, Apache-2.0), averaged.
# Rewritten for the diffcheck corpus.
import jax.numpy as jnp


def perceptron_loss(predictor_outputs, targets):
    return jnp.mean(jnp.maximum(0, -predictor_outputs * targets))
