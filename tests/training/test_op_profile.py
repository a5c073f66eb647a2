"""official/training/op_profile.py reads op times by type from the TF profiler's trace."""

import pytest
import tensorflow as tf

from official.training import op_profile

pytestmark = pytest.mark.tensorflow_only


def test_a_conv_step_spends_its_time_in_convolution_ops():
    x = tf.random.stateless_uniform((4, 32, 32, 8), seed=(1, 2))
    kernel = tf.random.stateless_uniform((3, 3, 8, 16), seed=(3, 4))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(kernel)
            loss = tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, "SAME") ** 2)
        return tape.gradient(loss, kernel)

    step()
    times = op_profile.profile_op_times(lambda: step().numpy(), 2)
    convolutions = {op for op in times if "Conv2D" in op}
    # The forward convolution and its kernel gradient, under whatever name oneDNN gives them.
    assert len(convolutions) >= 2, times
    assert all(seconds >= 0 for seconds in times.values())
    assert sum(times[op] for op in convolutions) > 0
