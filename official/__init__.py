"""ResNet, ResNet-RS and their peers as Keras 3 models, trained with tf.distribute.

    from official import models
    model = models.get("resnetrs50", num_classes=10)

This file holds no API, on purpose: TF Model Garden (`tf-models-official`) installs its own
`official/__init__.py` into the same folder, and whichever package is installed last owns that
file (uninstalling either one deletes it). Import the subpackages by name, as above; they work
with either file, or none (docs/backends.md, "Installing beside TF Model Garden").
"""
