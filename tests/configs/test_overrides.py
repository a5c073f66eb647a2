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


# ---- YAML files that cannot be read (issue #30): one line naming the file and where ----
BROKEN = "train:\n  epochs: 2\n model: x\n"  # line 3 is indented by one space


def test_a_config_file_that_is_not_yaml_is_named_with_its_line_and_column(tmp_path, capsys):
    from tests.command_line import error_line, train_status

    path = tmp_path / "mine.yaml"
    path.write_text(BROKEN)
    argv = [f"--config={path}", f"--model_dir={tmp_path / 'run'}"]
    assert train_status(argv) == 2
    assert error_line(capsys.readouterr().err) == (
        f"error: {path} is not valid YAML: line 3, column 2: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block mapping)."
    )
    assert not (tmp_path / "run").exists()


def test_an_override_that_is_not_yaml_says_where():
    with pytest.raises(ConfigError) as error:
        overrides.parse_override_text('{"train.epochs": 2')
    assert str(error.value) == (
        "--params_override is not valid YAML/JSON: line 1, column 19: expected ',' or '}', but "
        "got '<stream end>' (while parsing a flow mapping)."
    )


@pytest.mark.parametrize("text", ["", "\n  \n", "# nothing but a comment\n"])
def test_an_empty_config_file_is_refused_as_empty(text, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        overrides.load_config(str(path))
    assert str(error.value) == f"{path} is empty: a config file maps config keys to values."


@pytest.mark.parametrize("text", ["", BROKEN])
def test_an_empty_or_broken_run_record_is_named_once_with_what_to_do(text, tmp_path, capsys):
    from tests.command_line import error_line, train_status

    run = tmp_path / "run"
    run.mkdir()
    (run / overrides.RUN_CONFIG_FILE).write_text(text)
    (run / "ckpt-9.index").write_bytes(b"")  # what the record was about: left alone
    before = sorted(p.name for p in run.iterdir())
    assert train_status([f"--model_dir={run}", "--mode=export"]) == 2
    record = run / overrides.RUN_CONFIG_FILE
    expected = (
        f"error: {record} is empty: the run's record was lost; put it back or use a new "
        "--model_dir."
        if not text
        else f"error: {record} is not valid YAML: line 3, column 2: expected <block end>, but "
        "found '<block mapping start>' (while parsing a block mapping)."
    )
    assert error_line(capsys.readouterr().err) == expected
    assert sorted(p.name for p in run.iterdir()) == before
