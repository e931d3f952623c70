# Modeled on optax.losses.triplet_margin_loss (google-deepmind/optax, Apache-2.0): p-norm distances with
# eps inside the root, a hinge through jnp.maximum, chex type hints.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import chex
import jax.numpy as jnp


def triplet_margin_loss(anchors: chex.Array, positives: chex.Array, negatives: chex.Array,
                        axis: int = -1, norm_degree: chex.Numeric = 2, margin: chex.Numeric = 1.0,
                        eps: chex.Numeric = 1e-6) -> chex.Array:
    """max(d(a, p) - d(a, n) + margin, 0) with d = (sum |x|^p + eps)^(1/p) (Balntas et al. 2016)."""
    d_pos = jnp.power(jnp.power(anchors - positives, norm_degree).sum(axis) + eps, 1 / norm_degree)
    d_neg = jnp.power(jnp.power(anchors - negatives, norm_degree).sum(axis) + eps, 1 / norm_degree)
    return jnp.maximum(d_pos - d_neg + margin, 0)
