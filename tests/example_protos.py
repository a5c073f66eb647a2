"""tf.train.Example records with arbitrary features, for tests that feed a pipeline records
outside the library's schema (wrong keys, wrong types)."""

import tensorflow as tf


def example_bytes(features: dict) -> bytes:
    """A serialized Example: bytes values as bytes lists, everything else as int64 lists."""

    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    proto = tf.train.Features(feature={k: feature(v) for k, v in features.items()})
    return tf.train.Example(features=proto).SerializeToString()
