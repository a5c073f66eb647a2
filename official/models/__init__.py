"""The model families and their registry: `get(name, weights=None, **overrides)` (with
`features_only=True`: the backbone's feature maps), `feature_info(name)`, `get_converted(path)`,
`list_models()`."""

import sys

# Keras builds, saves and loads a functional model by walking its graph recursively, one Python
# frame per layer; ResNet-270/350/420 are ~2,000 layers deep, past Python's default limit of 1,000.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

# Each module registers its family; the order is the order of `list_models()`.
from official.models import resnet  # noqa: E402, F401, I001
from official.models import resnest  # noqa: E402, F401
from official.models import nfnet  # noqa: E402, F401
from official.models import efficientnet  # noqa: E402, F401
from official.models import mnasnet  # noqa: E402, F401
from official.models import shufflenet  # noqa: E402, F401
from official.models import attention  # noqa: E402, F401
from official.models import video  # noqa: E402, F401
from official.models.counting import count_macs, count_parameters  # noqa: E402
from official.models.registry import (  # noqa: E402
    accepted_arguments,
    entry,
    feature_info,
    get,
    get_converted,
    list_models,
    parameter_count,
    register,
)

__all__ = [
    "accepted_arguments",
    "count_macs",
    "count_parameters",
    "entry",
    "feature_info",
    "get",
    "get_converted",
    "list_models",
    "parameter_count",
    "register",
]
