"""Pretrained weights from other frameworks, converted exactly into this library's models.

Sources (one module each): timm state dicts (timm.py), keras.applications (keras_apps.py), the
official TF ResNet-RS checkpoints (tf_checkpoint.py). Every conversion goes through one strict
fill (strict.py). Use them through `official.models.get(name, weights=...)`, which calls
`prepare` and fills the model it builds, or the CLI `python -m official.weights convert`;
docs/weights.md has the rules and the name table. Only the CLI (__main__.py) imports
official.models.
"""

from official.weights.loading import KINDS, Prepared, prepare
from official.weights.strict import ConversionError

__all__ = ["KINDS", "ConversionError", "Prepared", "prepare"]
