# Modeled on examples/wmt/train.py compute_weighted_cross_entropy (google/flax, Apache-2.0): label-smoothed
# cross entropy with soft one-hot targets, minus the entropy of the smoothed targets.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax.training import common_utils


def compute_weighted_cross_entropy(logits, targets, weights=None, label_smoothing: float = 0.1):
    vocab_size = logits.shape[-1]
    confidence = 1.0 - label_smoothing
    low_confidence = (1.0 - confidence) / (vocab_size - 1)
    normalizing_constant = -(
        confidence * jnp.log(confidence) + (vocab_size - 1) * low_confidence * jnp.log(low_confidence + 1e-20)
    )
    soft_targets = common_utils.onehot(targets, vocab_size, on_value=confidence, off_value=low_confidence)

    loss = -jnp.sum(soft_targets * nn.log_softmax(logits), axis=-1)
    loss = loss - normalizing_constant

    normalizing_factor = np.prod(targets.shape)
    if weights is not None:
        loss = loss * weights
        normalizing_factor = weights.sum()

    return loss.sum(), normalizing_factor
