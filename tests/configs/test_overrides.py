import pytest

from official.configs import overrides, recipes
from official.configs.overrides import ConfigError


def test_dotted_and_nested_keys_and_type_coercion():
    c = recipes.get("sample")
    overrides.apply_overrides(
        c,
        {
            "train.epochs": 3,
            "optimizer": {"weight_decay": 0},
            "model.kwargs": {"dropout_rate": 0.5},
        },
    )
    assert c.train.epochs == 3.0 and isinstance(c.train.epochs, float)
    assert c.optimizer.weight_decay == 0.0
    assert c.model.kwargs["dropout_rate"] == 0.5 and c.model.kwargs["width_multiplier"] == 0.25


def test_a_dotted_key_below_model_kwargs_merges_as_the_nested_form_does():
    dotted, nested = recipes.get("sample"), recipes.get("sample")
    overrides.apply_overrides(dotted, {"model.kwargs.width_multiplier": 0.5})
    overrides.apply_overrides(nested, {"model": {"kwargs": {"width_multiplier": 0.5}}})
    assert dotted == nested
    assert dotted.model.kwargs == {**recipes.get("sample").model.kwargs, "width_multiplier": 0.5}
    # the range table still applies to the merged key
    with pytest.raises(ConfigError, match=r"model.kwargs.width_multiplier=-1 is out of range"):
        overrides.apply_overrides(dotted, {"model.kwargs.width_multiplier": -1})
    with pytest.raises(ConfigError, match=r"'model.kwargs.a.b': model.kwargs takes one key below"):
        overrides.apply_overrides(dotted, {"model.kwargs.a.b": 1})
    with pytest.raises(ConfigError, match=r"'model.name.x': model.name is a value"):
        overrides.apply_overrides(dotted, {"model.name.x": 1})
    assert dotted.model.kwargs["width_multiplier"] == 0.5  # left as it was by the errors


def test_unknown_key_names_the_valid_ones():
    with pytest.raises(
        ConfigError,
        match=r"Unknown config key 'optimizer.lr': optimizer has .*"
        r"base_learning_rate",
    ):
        overrides.apply_overrides(recipes.get("sample"), {"optimizer.lr": 0.1})
    with pytest.raises(ConfigError, match=r"Unknown config key 'trian.epochs'"):
        overrides.apply_overrides(recipes.get("sample"), {"trian": {"epochs": 1}})


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("train.epochs", "ten", "train.epochs must be a float"),
        ("train.steps_per_loop", 2.5, "train.steps_per_loop must be an integer"),
        ("optimizer.nesterov", "yes", "optimizer.nesterov must be true or false"),
        ("data.augmentation", "autoaugment", "data.augmentation='autoaugment' is not known"),
    ],
)
def test_wrong_types_are_errors(key, value, message):
    with pytest.raises(ValueError, match=message):
        overrides.apply_overrides(recipes.get("sample"), {key: value})


def test_yaml_text_and_round_trip(tmp_path):
    c = recipes.get("resnetrs50_i160")
    path = tmp_path / "params.yaml"
    overrides.save_yaml(c, str(path))
    from official.configs.config import ExperimentConfig

    again = overrides.apply_overrides(ExperimentConfig(), overrides.load_yaml(str(path)))
    assert again == c
    assert overrides.parse_override_text('{"train.epochs": 2}') == {"train.epochs": 2}
    with pytest.raises(ConfigError, match="must be a mapping"):
        overrides.parse_override_text("[1, 2]")
