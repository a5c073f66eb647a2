"""Config ranges (official/configs/validation.py) and YAML 1.2 numbers."""

import math

import pytest

from official.configs import overrides, recipes, validation
from official.configs.overrides import ConfigError
from official.configs.validation import ONE_OF


def _sample(**values):
    config = recipes.get("sample")
    for key, value in values.items():
        group, _, field = key.partition(".")
        if field.startswith("kwargs."):
            getattr(config, group).kwargs[field[len("kwargs.") :]] = value
        else:
            setattr(getattr(config, group), field, value)
    return config


def _outside(allowed: validation.Range) -> list:
    """Values just outside each end of the range, and NaN / Inf (hand-derived per bound)."""
    values = [math.nan, math.inf]
    if allowed.low is not None:
        values.append(allowed.low if allowed.low_open else allowed.low - 1)
    if allowed.high is not None:
        values.append(allowed.high if allowed.high_open else allowed.high + 0.5)
    return values


def _inside(allowed: validation.Range):
    if allowed.high is not None:
        return (allowed.low + allowed.high) / 2
    return allowed.low + 1


CASES = [(key, value) for key, allowed in validation.RANGES.items() for value in _outside(allowed)]


@pytest.mark.parametrize("key,value", CASES)
def test_every_range_refuses_values_outside_it_in_one_line(key, value):
    allowed = validation.RANGES[key]
    with pytest.raises(ConfigError) as error:
        validation.validate(_sample(**{key: value}))
    message = str(error.value)
    assert message == f"{key}={value!r} is out of range: it must be {allowed}."
    assert "\n" not in message


@pytest.mark.parametrize("key", sorted(validation.RANGES))
def test_values_inside_the_range_are_accepted(key):
    allowed = validation.RANGES[key]
    config = _sample(**{key: _inside(allowed)})
    for pair in ONE_OF:  # exactly one of a pair is set: clear the other, as an override does
        if key in pair:
            _, _, partner = pair[1 - pair.index(key)].partition(".")
            setattr(config.train, partner, None)
    if key == "train.divergence_factor":  # the range admits 1, which the guard's rule refuses
        config.train.divergence_factor = 2.0
    validation.validate(config)


def test_the_issue_values_and_their_messages():
    """The values a new user tried, with the exact lines they now get."""
    expected = {
        ("data.train_batch_size", -8): "data.train_batch_size=-8 is out of range: it must be >= 1.",
        ("data.train_batch_size", 0): "data.train_batch_size=0 is out of range: it must be >= 1.",
        ("optimizer.base_learning_rate", -0.1): (
            "optimizer.base_learning_rate=-0.1 is out of range: it must be > 0."
        ),
        ("data.num_classes", 1): "data.num_classes=1 is out of range: it must be >= 2.",
        ("optimizer.label_smoothing", 1.5): (
            "optimizer.label_smoothing=1.5 is out of range: it must be in [0, 1)."
        ),
        ("model.kwargs.dropout_rate", 1.2): (
            "model.kwargs.dropout_rate=1.2 is out of range: it must be in [0, 1)."
        ),
    }
    for (key, value), message in expected.items():
        with pytest.raises(ConfigError) as error:
            validation.validate(_sample(**{key: value}))
        assert str(error.value) == message


def test_batch_sizes_must_split_over_the_replicas():
    config = _sample(**{"data.train_batch_size": 30})
    validation.validate(config, num_replicas=2)
    with pytest.raises(ConfigError, match=r"^data.train_batch_size=30 does not split over 4 "):
        validation.validate(config, num_replicas=4)
    with pytest.raises(ConfigError, match=r"^data.eval_batch_size=120 does not split over 7 "):
        validation.validate(_sample(**{"data.train_batch_size": 28}), num_replicas=7)


def test_divergence_factor_is_off_or_above_one():
    validation.validate(_sample(**{"train.divergence_factor": 0.0}))
    with pytest.raises(ConfigError, match=r"train.divergence_factor=0.5 is out of range"):
        validation.validate(_sample(**{"train.divergence_factor": 0.5}))


def test_every_recipe_is_in_range():
    for name in recipes.list_recipes():
        if "<" not in name:
            validation.validate(recipes.get(name))


@pytest.mark.parametrize(
    "text,value",
    [("1e-3", 1e-3), ("1E6", 1e6), ("2.5e-4", 2.5e-4), ("-1e+2", -100.0), (".5e1", 5.0)],
)
def test_yaml_1_2_exponent_numbers_are_floats(text, value):
    parsed = overrides.parse_override_text(f'{{"optimizer.base_learning_rate": {text}}}')
    assert parsed == {"optimizer.base_learning_rate": value}
    if value < 0:  # parsed as the float it is, then refused by its range when applied
        with pytest.raises(ConfigError, match=r"base_learning_rate=-100.0 is out of range"):
            overrides.apply_overrides(recipes.get("sample"), parsed)
    else:
        config = overrides.apply_overrides(recipes.get("sample"), parsed)
        assert config.optimizer.base_learning_rate == value
    # a quoted number stays a string, and a float field still refuses it
    with pytest.raises(ConfigError, match="must be a float"):
        overrides.apply_overrides(
            recipes.get("sample"),
            overrides.parse_override_text(f'{{"optimizer.base_learning_rate": "{text}"}}'),
        )


def test_the_documented_table_is_the_table_in_the_code():
    import os
    import re

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "run_directory.md")) as f:
        text = f.read()
    table = text[text.index("<!-- ranges:start -->") : text.index("<!-- ranges:end -->")]
    rows = dict(re.findall(r"^\| `([\w.]+)` \| (.+) \|$", table, re.M))
    assert rows.keys() == validation.RANGES.keys()
    for key, allowed in validation.RANGES.items():
        assert rows[key].startswith(str(allowed)), key


@pytest.mark.parametrize(
    "values, message",
    [
        ({"data.mean_rgb": [127.5] * 3}, r"data.stddev_rgb=None: set both .* or neither"),
        (
            {"data.mean_rgb": [127.5] * 3, "data.stddev_rgb": [127.5, 0, 127.5]},
            r"data.stddev_rgb=\[127.5, 0, 127.5\]: use three numbers > 0",
        ),
        ({"data.mean_rgb": [1, 2], "data.stddev_rgb": [1] * 3}, r"mean_rgb=\[1, 2\]: use three"),
        ({"data.mean_rgb": "127.5", "data.stddev_rgb": [1] * 3}, "data.mean_rgb must be a list"),
    ],
)
def test_own_normalization_takes_three_values_each_for_mean_and_std(values, message):
    with pytest.raises(ConfigError, match=message):
        overrides.apply_overrides(recipes.get("sample"), values)
    given = {"data.mean_rgb": [127.5, 127, 120], "data.stddev_rgb": [60, 61.5, 62]}
    config = overrides.apply_overrides(recipes.get("sample"), given)
    assert config.data.given_mean_std == ((127.5, 127.0, 120.0), (60.0, 61.5, 62.0))
