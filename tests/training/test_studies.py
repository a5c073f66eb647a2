"""official/training/studies.py (driven by official/scaling.py): the scaling and
normalization studies as resumable drivers."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from official.configs import recipes
from official.training import studies


def _readable_png(path):
    image = Image.open(io.BytesIO(open(path, "rb").read()))
    assert image.format == "PNG" and np.asarray(image.convert("L")).std() > 5


def test_interrupted_study_resumes_without_redoing_finished_points(tmp_path):
    points = studies.scaling_grid([0.25, 0.5], [26], [24, 32], [1.0])
    trained = []

    def fake_train(config, model_dir):
        trained.append(model_dir)
        if len(trained) == 3:
            raise KeyboardInterrupt  # the study is stopped in the middle of point 3
        return {"top1": 0.5, "top5": 0.9, "train_seconds": 1.0}

    with pytest.raises(KeyboardInterrupt):
        studies.run_study(points, recipes.get("sample"), str(tmp_path), train=fake_train)
    assert len(studies.read_results(str(tmp_path / "results.csv"))) == 2

    trained.clear()
    rows = studies.run_study(
        points,
        recipes.get("sample"),
        str(tmp_path),
        train=lambda c, d: trained.append(d) or {"top1": 0.6, "top5": 1.0, "train_seconds": 2.0},
    )
    assert [os.path.basename(d) for d in trained] == [p.key for p in points[2:]]
    assert sorted(r["key"] for r in rows) == sorted(p.key for p in points)


def test_point_config_applies_every_axis():
    point = studies.Point(
        width=0.5, depth=101, resolution=160, epochs=10, norm="group", batch_size=8
    )
    config = studies.point_config(recipes.get("sample"), point)
    assert config.model.kwargs["width_multiplier"] == 0.5 and config.model.kwargs["depth"] == 101
    assert "block_repeats" not in config.model.kwargs and config.model.kwargs["norm"] == "group"
    assert config.data.image_size == 160 and config.train.epochs == 10
    assert config.data.train_batch_size == 8
    assert recipes.get("sample").model.kwargs["block_repeats"] == [1, 1, 1, 1]  # base untouched


@pytest.mark.slow
def test_tiny_grid_runs_end_to_end_on_the_sample_data(sample_dir, tmp_path):
    base = recipes.get("sample")
    base.data.data_dir = sample_dir
    base.data.train_batch_size = 64
    points = studies.scaling_grid([0.125], [14], [24, 32], [0.5])
    rows = studies.run_study(points, base, str(tmp_path), plot=studies.plot_scaling)
    assert len(rows) == 2 and all(0.0 <= float(r["top1"]) <= 1.0 for r in rows)
    assert all(float(r["train_seconds"]) > 0 for r in rows)
    _readable_png(tmp_path / "scaling.png")


def test_plots_have_a_series_per_value(tmp_path):
    rows = [
        {
            "key": f"k{i}",
            "width": w,
            "depth": "50",
            "resolution": r,
            "norm": n,
            "batch_size": str(b),
            "top1": str(0.5 + 0.01 * i),
            "train_seconds": str(i + 1),
        }
        for i, (w, r, n, b) in enumerate(
            [
                ("0.5", "128", "batch", 2),
                ("1.0", "160", "batch", 8),
                ("0.5", "160", "group", 2),
                ("1.0", "128", "group", 8),
            ]
        )
    ]
    figure = studies.plot_scaling(rows, str(tmp_path))
    _readable_png(tmp_path / "scaling.png")
    assert [len(ax.get_lines()) for ax in figure.axes] == [2, 1, 2]  # widths, depth, resolutions
    figure = studies.plot_norm(rows, str(tmp_path))
    _readable_png(tmp_path / "norm.png")
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["BatchNorm", "GroupNorm"]
