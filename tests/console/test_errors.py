"""official/console/errors.py: any exception as the one line a program prints."""

import tensorflow as tf

from official.console import errors


def test_the_first_line_of_a_plain_error_and_the_type_when_it_says_nothing():
    assert errors.one_line(ValueError("bad value\nmore detail")) == "bad value"
    assert errors.one_line(KeyError()) == "KeyError"
    assert errors.one_line(ValueError("x" * 300), 240) == "x" * 240


def test_a_tensorflow_error_reads_as_its_reason():
    eager = tf.errors.InvalidArgumentError(
        None,
        None,
        "{{function_node __wrapped__DecodeImage_device_/job:localhost}} Unknown image file "
        "format. One of JPEG, PNG, GIF, BMP required. [Op:DecodeImage] name: ",
    )
    assert errors.one_line(eager).startswith("Unknown image file format. One of JPEG, PNG")
    assert "[Op:" not in errors.one_line(eager)
    graph = tf.errors.InvalidArgumentError(
        None,
        None,
        "Graph execution error:\n\nDetected at node decode defined at (most recent call last):\n"
        "<stack traces unavailable>\nInvalid PNG data, size 300\n\t [[{{node decode}}]]",
    )
    assert errors.one_line(graph) == "Invalid PNG data, size 300"


def test_real_decode_errors_eager_and_in_a_graph():
    def decode(data):
        return tf.io.decode_image(data)

    for run in (decode, tf.function(decode)):
        try:
            run(tf.constant(b"not an image"))
        except tf.errors.InvalidArgumentError as error:
            line = errors.one_line(error)
        assert line.startswith("Unknown image file format"), line


def test_a_dataset_function_error_in_a_compiled_loop_reads_as_the_functions_reason():
    """A tf.data map fails inside a tf.function (the Trainer's evaluation loop): tf.data's
    'Error in user-defined function ... with iterator: ...:' prefix is dropped."""
    dataset = tf.data.Dataset.from_tensors(b"not an image").map(tf.io.decode_jpeg)

    @tf.function
    def first():
        return next(iter(dataset))

    try:
        first()
    except tf.errors.InvalidArgumentError as error:
        line = errors.one_line(error)
    assert not line.startswith("Error in user-defined function"), line
    assert "JPEG" in line, line
