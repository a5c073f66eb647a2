"""Residual Attention Networks (docs/REFERENCE.md §1.7): parameter counts derived layer by layer
from the authors' released Caffe definitions, written out here so the test stands on its own.

Source: github.com/fwang91/residual-attention-network (commit bc207a8), imagenet_model/
Attention-56-deploy.prototxt and Attention-92-deploy.prototxt. Their layers, in order
(C = channels of the stage, m = C / 4):

  conv1 7x7/2 3->64 (no bias), conv1/bn, pool1 3x3/2
  per stage (C = 256, 512, 1024; modules 1-1-1 for -56, 1-2-3 for -92; mask depth 3, 2, 1):
    pre_res_s: a residual unit Cin -> C (stride 2 from the second stage), with a projection
    per module AttentionX_k:
      trunk/res1..res3: three units C -> C (p = 1 before the module, then the t = 2 trunk units)
      mask/down_sample: per level a max pool and one unit (res{l}_1), one extra unit at the
        deepest level (res{L}_2)
      mask/skip/res{l}: one unit per level but the deepest
      mask/up_sample/res{l}_1: one unit per level but the deepest, after interp + sum
      mask/up_sample/interp_1/bn, mask/linear_1 1x1 C->C (no bias), linear_1/bn, linear_2 1x1
      C->C (no bias), sigmoid
      fusion/bn + branch1: the unit after the module (p = 1)
  post_res_4_1 (1024 -> 2048, stride 2, projection), post_res_4_2, post_res_4_3, then
  post_res_4_3/bn, ave_pool, classifier (InnerProduct 2048 -> 1000 with bias).

A residual unit Cin -> C is pre-activation: a BN on its input (2 * Cin: scale and shift),
branch1/conv1_1x1 Cin->m, BN, conv2_3x3 m->m, BN, conv3_1x1 m->C (no biases), and branch2, a
1x1 Cin->C projection, when Cin != C. Units per module: 3 (trunk) + (3 * levels - 1) (mask) + 1.
"""

import pytest

from official import models


def unit(cin, c):
    m = c // 4
    params = 2 * cin + cin * m + 2 * m + 9 * m * m + 2 * m + m * c
    return params + (cin * c if cin != c else 0)


def module(c, levels):
    units = 3 + (3 * levels - 1) + 1
    return units * unit(c, c) + 2 * (2 * c) + 2 * c * c  # interp_1/bn, linear_1/bn, 2 linears


def attention_parameters(modules, width=1.0, classes=1000):
    scaled = lambda c: int(c * width)  # noqa: E731
    total = 7 * 7 * 3 * scaled(64) + 2 * scaled(64)  # conv1 + conv1/bn
    cin = scaled(64)
    for c, count, levels in zip((256, 512, 1024), modules, (3, 2, 1), strict=True):
        total += unit(cin, scaled(c)) + count * module(scaled(c), levels)
        cin = scaled(c)
    top = scaled(2048)
    total += unit(cin, top) + 2 * unit(top, top) + 2 * top  # post_res_4_1..3 and its bn
    return total + top * classes + classes  # classifier


RELEASED = {"attention56": ((1, 1, 1), 31_810_728), "attention92": ((1, 2, 3), 52_466_344)}


@pytest.mark.parametrize("name", RELEASED)
def test_derivation_gives_the_released_counts(name):
    modules, released = RELEASED[name]
    assert attention_parameters(modules) == released
    # The paper's table 2 says 31.9M and 51.3M: -0.3% and +2.3% from what was released.
    assert abs(released / {"attention56": 31.9e6, "attention92": 51.3e6}[name] - 1) < 0.03


@pytest.mark.parametrize("name", RELEASED)
def test_narrow_networks_follow_the_same_derivation(name):
    modules, _ = RELEASED[name]
    model = models.get(name, width_multiplier=0.125, num_classes=10)
    assert models.count_parameters(model) == attention_parameters(modules, 0.125, 10)


@pytest.mark.slow
@pytest.mark.parametrize("name", RELEASED)
def test_full_networks_have_the_released_counts(name):
    assert models.parameter_count(name) == RELEASED[name][1]
