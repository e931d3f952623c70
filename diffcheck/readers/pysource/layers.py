"""``torch.nn`` layers as the source reader sees them: structure, not sizes.

A model is differentiable with respect to its parameters when every operation between the
parameters and the output is. Affine maps, convolutions, normalizations with ``eps``,
recurrent cells and attention are smooth functions of their inputs and parameters, whatever
their sizes; what decides the verdict is the structure around them: activations, pooling,
argmax and rounding, ``detach``. So a smooth layer is an opaque smooth function of its
input and of its parameters (named by module path as PyTorch names them, ``fc1.weight``),
and the layers that are not smooth say how: max-pooling is a max over neighbouring
elements, an embedding looks up a row by an index.

>>> layer = Layer("Linear", (), {"bias": True}, ("weight", "bias"))
>>> layer.path = "fc1"
>>> layer.parameter_names()
['fc1.weight', 'fc1.bias']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: smooth layers: their parameters (PyTorch's names) given the constructor's keywords
_SMOOTH_LAYERS: dict[str, tuple[str, ...]] = {
    "Linear": ("weight", "bias"), "Bilinear": ("weight", "bias"), "LazyLinear": ("weight", "bias"),
    "Conv1d": ("weight", "bias"), "Conv2d": ("weight", "bias"), "Conv3d": ("weight", "bias"),
    "ConvTranspose1d": ("weight", "bias"), "ConvTranspose2d": ("weight", "bias"),
    "ConvTranspose3d": ("weight", "bias"), "LazyConv2d": ("weight", "bias"),
    "BatchNorm1d": ("weight", "bias"), "BatchNorm2d": ("weight", "bias"),
    "BatchNorm3d": ("weight", "bias"), "LayerNorm": ("weight", "bias"),
    "GroupNorm": ("weight", "bias"), "InstanceNorm1d": ("weight", "bias"),
    "InstanceNorm2d": ("weight", "bias"), "RMSNorm": ("weight",), "LocalResponseNorm": (),
    "MultiheadAttention": ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"),
    "LSTM": ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
    "GRU": ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
    "RNN": ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
    "LSTMCell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
    "GRUCell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
    "Upsample": (), "PixelShuffle": (), "AvgPool1d": (), "AvgPool2d": (), "AvgPool3d": (),
    "AdaptiveAvgPool1d": (), "AdaptiveAvgPool2d": (), "AdaptiveAvgPool3d": (),
    "ZeroPad2d": (), "ConstantPad2d": (), "ReflectionPad2d": (),
}

#: layers that pass their input on unchanged, as far as differentiability goes
IDENTITY_LAYERS = frozenset({
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity", "Flatten",
    "Unflatten",
})

#: max pooling: the largest of neighbouring elements
MAX_POOLS = frozenset({"MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d",
                       "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"})

#: layers whose outputs are a tuple of smooth functions (output, state)
RECURRENT = frozenset({"LSTM", "GRU", "RNN"})

#: layers without a bias when ``bias=False``; normalizations without parameters when not affine
_BIAS_OFF = ("bias",)
_AFFINE_KEYWORDS = ("affine", "elementwise_affine")


#: activations with a learnable parameter: (their parameters); the forward is the library's
#: function of the same name with that parameter (``nn.PReLU``: ``F.prelu(x, weight)``)
PARAMETRIC_ACTIVATIONS: dict[str, tuple[str, ...]] = {"PReLU": ("weight",)}


def is_layer(name: str) -> bool:
    return (name in _SMOOTH_LAYERS or name in IDENTITY_LAYERS or name in MAX_POOLS
            or name in PARAMETRIC_ACTIVATIONS or name == "Embedding" or name == "EmbeddingBag")


@dataclass(eq=False)
class Layer:
    """A ``torch.nn`` layer built in ``__init__``; ``path`` is set once the model is built."""

    kind: str
    args: tuple[Any, ...]
    keywords: dict[str, Any]
    parameters: tuple[str, ...]
    path: str = ""
    #: where it was built (``self.fc1 = nn.Linear(...)``): the line of an unused layer's cut
    span: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def parameter_names(self) -> list[str]:
        prefix = f"{self.path}." if self.path else ""
        return [prefix + name for name in self.parameters]


def build_layer(kind: str, args: tuple[Any, ...], keywords: dict[str, Any], span: Any) -> Layer:
    """The layer ``nn.<kind>(*args, **keywords)`` (its parameters decided by its keywords)."""
    if kind in ("Embedding", "EmbeddingBag"):
        parameters: tuple[str, ...] = ("weight",)
    elif kind in PARAMETRIC_ACTIVATIONS:
        parameters = PARAMETRIC_ACTIVATIONS[kind]
    elif kind in _SMOOTH_LAYERS:
        parameters = _SMOOTH_LAYERS[kind]
        if keywords.get("bias") is False:
            parameters = tuple(p for p in parameters if "bias" not in p)
        if any(keywords.get(k) is False for k in _AFFINE_KEYWORDS):
            parameters = ()
        if kind.startswith("InstanceNorm") and not keywords.get("affine"):
            parameters = ()
        if kind in RECURRENT:
            layers = keywords.get("num_layers", args[2] if len(args) > 2 else 1)
            try:
                count = max(1, int(layers))
            except (TypeError, ValueError):
                count = 1
            names = []
            for index in range(count):
                names += [p.replace("_l0", f"_l{index}") for p in parameters]
            if keywords.get("bidirectional"):
                names += [n + "_reverse" for n in list(names)]
            parameters = tuple(names)
    else:
        parameters = ()
    return Layer(kind, args, dict(keywords), parameters, span=span)
