"""ResNet, ResNet-RS and their peers as Keras 3 models, trained with tf.distribute.

import official
model = official.models.get("resnetrs50", num_classes=10)
"""

from official import layers, models

__all__ = ["layers", "models"]
