"""The SavedModel for TF Serving (docs/REFERENCE.md §4), loaded the way Serving and users load
it."""

import io
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import data as skdata

from official import models
from official.data import preprocess
from official.serving import image

SIZE = 64


def jpeg(image, **kwargs):
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", **kwargs)
    return out.getvalue()


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = models.get("resnet26", width_multiplier=0.25, num_classes=5)
    for layer in m.layers:  # non-trivial BN statistics and a non-zero residual branch
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(
                np.random.default_rng(1).normal(0, 0.1, layer.moving_mean.shape)
            )
            layer.gamma.assign(np.ones(layer.gamma.shape))
    return m


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("export") / "digits"
    names = ["zero", "one", "two", "three", "four"]
    return image.export_model(model, str(base), SIZE, class_names=names, top_k=3)


@pytest.mark.slow
def test_version_directory_and_saved_model_cli_lists_both_signatures(exported):
    assert os.path.basename(exported) == "1"
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run(
        [cli, "show", "--dir", exported, "--all"], capture_output=True, text=True, timeout=300
    ).stdout
    default = out[out.index("signature_def['serving_default']") :]
    assert "inputs['image_bytes'] tensor_info:" in default
    assert re.search(r"image_bytes.*\n\s+dtype: DT_STRING\n\s+shape: \(-1\)", default)
    images = out[out.index("signature_def['serving_images']") :]
    assert re.search(
        r"inputs\['images'\].*\n\s+dtype: DT_FLOAT\n\s+shape: \(-1, -1, -1, 3\)", images
    )
    for name, dtype in [
        ("probabilities", "DT_FLOAT"),
        ("classes", "DT_INT32"),
        ("scores", "DT_FLOAT"),
        ("class_names", "DT_STRING"),
    ]:
        assert re.search(rf"outputs\['{name}'\].*\n\s+dtype: {dtype}", default), name


def test_probabilities_equal_the_keras_model_on_real_jpeg_bytes(model, exported):
    photos = [jpeg(skdata.chelsea()), jpeg(skdata.rocket()), jpeg(skdata.astronaut())]
    serving = tf.saved_model.load(exported).signatures["serving_default"]
    out = serving(image_bytes=tf.constant(photos))
    images = tf.stack([preprocess.preprocess_for_eval(tf.constant(p), SIZE) for p in photos])
    expected = tf.nn.softmax(model(images, training=False)).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    top = np.argsort(-expected, axis=1)[:, :3]
    np.testing.assert_array_equal(out["classes"].numpy(), top)
    names = np.array(["zero", "one", "two", "three", "four"])
    assert out["class_names"].numpy().astype(str).tolist() == names[top].tolist()
    np.testing.assert_allclose(
        out["scores"].numpy(), np.take_along_axis(expected, top, 1), atol=1e-5
    )


def test_float_image_signature_matches_the_bytes_signature(exported):
    photo = skdata.coffee()
    loaded = tf.saved_model.load(exported)
    data = jpeg(photo, quality=100)
    decoded = tf.io.decode_jpeg(data).numpy().astype("float32")
    from_bytes = loaded.signatures["serving_default"](image_bytes=tf.constant([data]))
    from_floats = loaded.signatures["serving_images"](images=tf.constant(decoded[None]))
    np.testing.assert_allclose(
        from_floats["probabilities"].numpy(), from_bytes["probabilities"].numpy(), atol=1e-5
    )


def test_non_image_bytes_fail_clearly_and_the_next_request_works(exported):
    serving = tf.saved_model.load(exported).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        serving(image_bytes=tf.constant([b"this is not an image"]))
    out = serving(image_bytes=tf.constant([jpeg(skdata.chelsea())]))
    assert out["probabilities"].shape == (1, 5)


def test_an_empty_batch_is_a_clear_invalid_argument(exported):
    loaded = tf.saved_model.load(exported)
    with pytest.raises(tf.errors.InvalidArgumentError, match="image_bytes: the batch is empty"):
        loaded.signatures["serving_default"](image_bytes=tf.constant([], tf.string))
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: the batch is empty"):
        loaded.signatures["serving_images"](images=tf.zeros([0, 40, 30, 3]))
    out = loaded.signatures["serving_default"](image_bytes=tf.constant([jpeg(skdata.rocket())]))
    assert out["probabilities"].shape == (1, 5)


def test_the_eval_preprocessing_is_stored_with_the_export(exported):
    from official.data.eval_preprocessing import EvalPreprocessing

    path = os.path.join(exported, "assets.extra", "preprocessing.json")
    with open(path) as f:
        text = f.read()
    assert EvalPreprocessing.from_json(text, path) == EvalPreprocessing(SIZE, 32, "tf2")
    record = json.loads(text)  # what a reader of the file sees: the ImageNet statistics
    np.testing.assert_allclose(record["mean_rgb"], [123.68, 116.779, 103.939])
    np.testing.assert_allclose(record["stddev_rgb"], [58.393, 57.12, 57.375])


def test_warmup_requests_parse_and_run(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(exported, "assets.extra", "tf_serving_warmup_requests")
    serving = tf.saved_model.load(exported).signatures["serving_default"]
    count = 0
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        batch = tf.make_ndarray(request.inputs["image_bytes"])
        out = serving(image_bytes=tf.constant(batch))
        assert out["probabilities"].shape == (len(batch), 5)
        count += 1
    assert count == 3


def test_bfloat16_model_exports_float32_and_runs_on_cpu(tmp_path, mixed_bfloat16):
    model = models.get("resnet26", width_multiplier=0.25, num_classes=5)
    assert model.get_layer("stem_conv1").compute_dtype == "bfloat16"
    path = image.export_model(model, str(tmp_path / "bf16"), SIZE)
    keras.mixed_precision.set_global_policy("float32")
    loaded = tf.saved_model.load(path)
    assert {v.dtype for v in loaded.signatures["serving_default"].variables} == {tf.float32}
    graph = loaded.signatures["serving_default"].graph.as_graph_def()
    ops_dtypes = {
        attr.type for node in graph.node for fn in [node] for attr in fn.attr.values()
    } | {attr.type for f in graph.library.function for n in f.node_def for attr in n.attr.values()}
    assert tf.bfloat16.as_datatype_enum not in ops_dtypes
    out = loaded.signatures["serving_default"](image_bytes=tf.constant([jpeg(skdata.chelsea())]))
    assert np.all(np.isfinite(out["probabilities"].numpy()))


def test_an_existing_version_is_never_overwritten(model, exported):
    base = os.path.dirname(exported)
    second = image.export_model(model, base, SIZE)
    assert os.path.basename(second) == "2"
    with pytest.raises(FileExistsError, match="versions are immutable"):
        image.export_model(model, base, SIZE, version=1)
    assert not [n for n in os.listdir(base) if n.startswith(".tmp")]
