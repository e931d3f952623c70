# Modeled on optax.losses.poly_loss_cross_entropy (google-deepmind/optax, Apache-2.0):
# softmax cross-entropy plus epsilon * (1 - p_t) for soft labels. Rewritten for the corpus.
import jax
import jax.numpy as jnp


def softmax_cross_entropy(logits, labels):
    return -jnp.sum(labels * jax.nn.log_softmax(logits, axis=-1), axis=-1)


def poly_loss_cross_entropy(logits, labels, epsilon: float = 2.0):
    one_minus_pt = jnp.sum(labels * (1 - jax.nn.softmax(logits)), axis=-1)
    cross_entropy = softmax_cross_entropy(logits=logits, labels=labels)
    return jnp.mean(cross_entropy + epsilon * one_minus_pt)
