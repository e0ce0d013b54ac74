"""Activations from torch models: forward hooks, pooling and local-model adapters.

``repalign.layers(model)`` lists the default layers (block outputs; a transformer's
embeddings and layers), ``repalign.extract(model, stimuli)`` records them, and the
model's own preprocessing (tokenizer, image processor, timm ``pretrained_cfg``) or a
``transform=`` prepares the stimuli. See :mod:`._layers`, :mod:`.adapters`,
:mod:`._stimuli` and :mod:`.pooling`.

The one package of repalign that imports torch when it is imported; ``import
repalign`` alone does not load it. ``repalign.extract``, ``repalign.layers`` and
``repalign.load_model`` are the functions of the same names here, loaded on first
use. (The package is named ``extraction`` rather than DESIGN.md's ``extract`` so
that ``repalign.extract`` can be the function: importing a package ``extract``
would rebind that attribute to the package.)
"""

from ._images import ImagePreprocess
from .adapters import (
    CallableAdapter,
    ModelAdapter,
    ModuleAdapter,
    SentenceTransformerAdapter,
    TransformersAdapter,
    as_adapter,
    efficientnet_lite_preprocess,
    load_model,
)
from .hooks import extract, layers
from .pooling import POOLINGS

__all__ = [
    # entry points
    "extract",
    "layers",
    "load_model",
    # adapters
    "ModelAdapter",
    "ModuleAdapter",
    "CallableAdapter",
    "TransformersAdapter",
    "SentenceTransformerAdapter",
    "as_adapter",
    "efficientnet_lite_preprocess",
    "ImagePreprocess",
    # pooling
    "POOLINGS",
]

