# Modeled on examples/mnist.py loss (google-deepmind/dm-haiku, Apache-2.0): softmax cross entropy
# against one-hot labels plus an L2 penalty over every leaf of the parameter tree.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import jax
import jax.numpy as jnp


def softmax_cross_entropy_l2_loss(logits, labels, params, num_classes: int = 10, weight_decay: float = 1e-4):
    labels = jax.nn.one_hot(labels, num_classes)
    l2_regulariser = 0.5 * sum(jnp.sum(jnp.square(p)) for p in jax.tree_util.tree_leaves(params))
    log_likelihood = jnp.sum(labels * jax.nn.log_softmax(logits))
    return -log_likelihood / labels.shape[0] + weight_decay * l2_regulariser
