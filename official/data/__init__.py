"""Input data: the ImageNet TFRecord schema, tf.data pipelines, augmentation, the sample set."""
