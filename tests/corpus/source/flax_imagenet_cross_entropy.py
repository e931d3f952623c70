# Modeled on examples/imagenet/train.py cross_entropy_loss (google/flax, Apache-2.0): one-hot
# labels from flax.training.common_utils and optax's softmax cross entropy.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import jax.numpy as jnp
import optax
from flax.training import common_utils


NUM_CLASSES = 1000


def cross_entropy_loss(logits, labels):
    one_hot_labels = common_utils.onehot(labels, num_classes=NUM_CLASSES)
    xentropy = optax.softmax_cross_entropy(logits=logits, labels=one_hot_labels)
    return jnp.mean(xentropy)
