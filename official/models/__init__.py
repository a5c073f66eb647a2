"""The model families and their registry: `get(name, **overrides)`, `list_models()`."""

import sys

# Keras builds, saves and loads a functional model by walking its graph recursively, one Python
# frame per layer; ResNet-270/350/420 are ~2,000 layers deep, past Python's default limit of 1,000.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

from official.models import nfnet, resnest, resnet  # noqa: E402, F401  (each registers its family)
from official.models.counting import count_parameters  # noqa: E402
from official.models.registry import entry, get, list_models, register  # noqa: E402

__all__ = ["count_parameters", "entry", "get", "list_models", "register"]
