"""The channel statistics the networks' inputs are normalized with, in pixel units.

One home for the numbers that data preprocessing applies, weight sources are checked against
(official/weights/keras_apps.py) and the LiteRT stem fold folds into a convolution: they sit on
the bottom floor so that every package can read them (docs/architecture.md).
"""

# ImageNet mean and std of the RGB channels (docs/REFERENCE.md §2.1).
MEAN_RGB = (123.68, 116.779, 103.939)
STDDEV_RGB = (58.393, 57.12, 57.375)
# tensorflow/tpu resnet_main.py / efficientnet_builder.py: 255 x the torchvision statistics.
OFFICIAL_MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
OFFICIAL_STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)
