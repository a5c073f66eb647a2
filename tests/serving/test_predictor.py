"""official/serving/predictor.py and official/predict.py on `.keras` files: the class names a
file stores, or one note and the class indices when it stores none."""

import io

import keras
import numpy as np
import pytest
from PIL import Image

from official import predict
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import keras_file, predictor
from tests import command_line


def _model_file(path, class_names):
    """A 3-class model whose logits are fixed (bias only: 0.1, 2.0, 1.0), saved with or without
    names."""
    inputs = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(3, kernel_initializer="zeros")(pooled)
    model = keras.Model(inputs, logits)
    model.layers[-1].bias.assign(np.array([0.1, 2.0, 1.0], np.float32))
    keras_file.save(model, str(path), EvalPreprocessing(16, 0), class_names)
    return str(path)


def _jpegs(folder, count):
    folder.mkdir()
    for i in range(count):
        data = io.BytesIO()
        Image.fromarray(np.full((20, 20, 3), 30 * i, np.uint8)).save(data, format="JPEG")
        (folder / f"{i}.jpg").write_bytes(data.getvalue())
    return str(folder)


def _softmax(logits):
    e = np.exp(np.array(logits) - max(logits))
    return e / e.sum()


@pytest.mark.parametrize("names", [["cats", "dogs", "owls"], None])
def test_predict_prints_stored_names_or_says_once_that_there_are_none(names, tmp_path, capsys):
    path = _model_file(tmp_path / "m.keras", names)
    photos = _jpegs(tmp_path / "photos", 2)
    values, paths = command_line.program_flags(predict, [f"--model={path}", "--top_k=5", photos])
    assert predict.run(values, paths) == 0
    out, err = capsys.readouterr()
    p = _softmax([0.1, 2.0, 1.0])  # the bias: the same for every image
    shown = names or ["0", "1", "2"]
    expected = f"{shown[1]} {p[1]:.4f}, {shown[2]} {p[2]:.4f}, {shown[0]} {p[0]:.4f}"
    assert out.splitlines() == [f"{photos}/0.jpg: {expected}", f"{photos}/1.jpg: {expected}"]
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    if names:
        assert notes == []
    else:
        assert notes == [
            f"note: {path} stores no class names (its data had no labels.json for its 3 "
            "classes): printing class indices; --labels=labels.json names them"
        ]


def test_a_labels_file_of_another_class_count_is_refused(tmp_path):
    path = _model_file(tmp_path / "m.keras", None)
    labels = tmp_path / "labels.json"
    labels.write_text('{"0": "a", "1": "b"}')
    with pytest.raises(ValueError, match="2 class names for a model with 3 classes"):
        predictor.Classifier(path, 5, None, str(labels))


@pytest.mark.parametrize(
    "argv,line",
    [
        (["photos"], "error: usage: python -m official.predict --model=PATH IMAGE_OR_FOLDER..."),
        (["--model={model}"], "error: usage: python -m official.predict --model=PATH"),
        (["--model={tmp}/none.keras", "photos"], "error: --model={tmp}/none.keras: no such"),
        (["--model={model}", "--top_k=0", "photos"], "error: --top_k=0: give 1 or more classes."),
        (["--model={model}", "photos", "{tmp}/typo.jpg"], "error: no such file or folder: "),
        (["--model={tmp}/photos", "photos"], "error: "),  # a folder that is no model
    ],
)
def test_predict_command_line_errors_exit_2_with_one_line(argv, line, tmp_path, capsys):
    model = _model_file(tmp_path / "m.keras", None)
    photos = _jpegs(tmp_path / "photos", 1)
    fill = {"model": model, "tmp": str(tmp_path)}
    argv = [photos if a == "photos" else a.format(**fill) for a in argv]
    values, paths = command_line.program_flags(predict, argv)
    assert predict.run(values, paths) == 2
    out, err = capsys.readouterr()
    errors = [e for e in err.splitlines() if e.startswith("error:")]
    assert out == "" and len(errors) == 1 and errors[0].startswith(line.format(**fill)), err
