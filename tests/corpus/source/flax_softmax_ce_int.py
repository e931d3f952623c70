# The cross-entropy of the Flax examples (google/flax, Apache-2.0: examples/mnist/train.py style):
# one-hot of integer labels, log_softmax, sum and mean. Rewritten for the diffcheck corpus.
import jax
import jax.numpy as jnp


def cross_entropy_loss(logits: jnp.ndarray, labels: jnp.ndarray, num_classes: int = 10) -> jnp.ndarray:
    one_hot_labels = jax.nn.one_hot(labels, num_classes=num_classes)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.sum(one_hot_labels * log_probs, axis=-1))
