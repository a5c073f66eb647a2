"""official/training/speed.py and official/models/counting.py: the measurements the
ResNet-RS paper makes."""

import io
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from official import models
from official.models.counting import count_macs
from official.training import speed


@pytest.mark.parametrize(
    "name,size,public",
    # Public multiply-add figures (batch 1, 1000 classes).
    [
        ("resnet50", 224, 4.089e9),
        ("resnetrs50", 160, 2.279e9),
        ("resnext50_32x4d", 224, 4.231e9),
        ("efficientnet_b0", 224, 0.386e9),
    ],
)
def test_multiply_adds_within_one_percent_of_public_figures(name, size, public):
    macs = count_macs(models.get(name, input_shape=(size, size, 3)))
    assert abs(macs - public) / public < 0.01, macs


def test_flops_need_a_static_shape():
    with pytest.raises(ValueError, match="static input shape"):
        count_macs(models.get("resnet18"))


def test_timing_excludes_the_slow_first_calls():
    calls = []

    def step():  # like a model whose first call traces and compiles
        time.sleep(0.5 if not calls else 0.01)
        calls.append(1)

    times = speed.time_calls(step, warmup=1, repeats=5)
    assert len(times) == 5 and len(calls) == 6
    assert max(times) < 0.1  # the 0.5 s first call is not among them


def test_batch_is_halved_until_it_fits():
    tried = []

    def run(batch):
        tried.append(batch)
        if batch > 8:
            raise tf.errors.ResourceExhaustedError(None, None, f"OOM at batch {batch}")
        return f"ran {batch}"

    assert speed.with_batch_halving(run, 64) == ("ran 8", 8)
    assert tried == [64, 32, 16, 8]


@pytest.mark.slow
def test_benchmark_model_reports_every_figure():
    result = speed.benchmark_model("resnet18", 32, 4, steps=1, warmup=1, repeats=2)
    assert result.parameters == 11_689_512 and result.batch_size == 4
    assert result.macs == count_macs(models.get("resnet18", input_shape=(32, 32, 3)))
    assert result.train_images_per_second > 0 and result.infer_images_per_second > 0
    assert 0 < result.latency_p50_ms <= result.latency_p99_ms and result.peak_memory_mb > 0


def test_plot_is_a_readable_png_with_a_series_per_family(tmp_path):
    results = [
        speed.Result(n, f, 224, 32, "float32", False, p, m, s, 1.0, s * 3, 10.0, 12.0, 900.0)
        for n, f, p, m, s in [
            ("resnet50", "resnet", 25e6, 4.1e9, 30.0),
            ("resnet101", "resnet", 44e6, 7.8e9, 18.0),
            ("efficientnet_b0", "efficientnet", 5e6, 0.4e9, 40.0),
        ]
    ]
    path = tmp_path / "speed.png"
    figure = speed.plot(results, str(path))
    assert [len(ax.get_lines()) for ax in figure.axes] == [2, 2]
    image = Image.open(io.BytesIO(path.read_bytes()))
    assert image.format == "PNG" and image.size[0] > 500
    assert np.asarray(image.convert("L")).std() > 5  # not a blank canvas
    assert "resnet50 | 224 | 32 | 25.00 | 4.100" in speed.table(results)
