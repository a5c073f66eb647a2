"""official/models/stages.py: every registered network's layers parse, and the depths count
blocks in running order (hand-counted for the tiny ResNet-18 and ShuffleNet)."""

import keras
import pytest

from official import models
from official.models import stages
from official.models.counting import shapes_only
from tests.models.test_registry import _tiny


@pytest.mark.slow
def test_every_registered_layer_has_a_part():
    with shapes_only():
        for name in models.list_models():
            model = _tiny(name)
            kinds = {stages.part_of(layer).kind for layer in model.layers}
            assert {stages.STEM, stages.STAGE, stages.HEAD} <= kinds, name
            assert stages.stage_numbers(model), name


def test_depths_of_the_tiny_resnet18():
    with shapes_only():
        model = _tiny("resnet18")
    depths = stages.block_depths(model)
    assert depths["stem_conv1"] == 0
    # One block per stage (_tiny): stage s's block is depth s - 1; no neck, so the head is 5.
    assert [depths[f"stage{s}_block1_conv1"] for s in (2, 3, 4, 5)] == [1, 2, 3, 4]
    assert depths["classifier"] == 5
    assert stages.stage_numbers(model) == [2, 3, 4, 5]


def test_the_neck_sits_between_the_last_block_and_the_head():
    with shapes_only():
        model = _tiny("efficientnet_b0")
    depths = stages.block_depths(model)
    assert depths["stage7_block1_dwconv"] == 7
    assert depths["head_conv"] == 8 and depths["classifier"] == 9


def test_a_layer_outside_the_naming_rules_is_named_in_the_error():
    with pytest.raises(ValueError, match="'dense_extra'"):
        stages.part_of(keras.layers.Dense(2, name="dense_extra"))
