"""Initial weights: distinct per layer and a function of runtime.seed alone, on 1 or 2 replicas
(docs/distributed.md, "Seeding")."""

import hashlib

import numpy as np

from official import models
from official.configs import overrides, recipes
from official.training import loop
from official.training.runtime import get_strategy


def sample_config(seed):
    config = recipes.get("sample")
    overrides.apply_overrides(config, {"runtime.seed": seed})
    return config


def weights(model):
    return {w.path: np.asarray(w) for w in model.weights if "seed_generator" not in w.path}


def test_no_two_kernels_of_resnetrs50_are_equal():
    # Before, one module-level initializer gave e.g. stem_conv4 and stage2_block1_conv2, or
    # stage2_block1_conv3 and its shortcut conv, the same kernel.
    model = models.get("resnetrs50", input_shape=(32, 32, 3))
    kernels = [w for w in model.weights if w.path.endswith("/kernel")]
    assert len(kernels) > 60
    digests = {hashlib.sha1(np.asarray(k).tobytes()).hexdigest(): k.path for k in kernels}
    assert len(digests) == len(kernels)


def test_initial_weights_follow_runtime_seed_on_one_or_two_replicas(tmp_path):
    first = weights(loop.Trainer(sample_config(3), get_strategy("cpu"), str(tmp_path)).model)
    again = weights(loop.Trainer(sample_config(3), get_strategy("cpu"), str(tmp_path)).model)
    other = weights(loop.Trainer(sample_config(4), get_strategy("cpu"), str(tmp_path)).model)
    mirrored = get_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    two = loop.Trainer(sample_config(3), mirrored, str(tmp_path)).model
    assert first.keys() == again.keys() == other.keys()
    kernels = [p for p in first if p.endswith("/kernel")]
    assert len(kernels) > 10
    for path in first:
        np.testing.assert_array_equal(first[path], again[path], path)
    for path in kernels:
        assert not np.array_equal(first[path], other[path]), path
    for w in two.weights:
        if "seed_generator" in w.path:
            continue
        for replica in mirrored.experimental_local_results(w.value):
            np.testing.assert_array_equal(np.asarray(replica), first[w.path], w.path)
