"""The ResNet-RS paper's scaling study (section 7) and the GroupNorm paper's batch-size study
(official/scaling.py is the program): grids of points, each a config trained and evaluated,
appended to out_dir/results.csv as it finishes; a point already there is never trained again,
so an interrupted study resumes where it stopped. The plots are rewritten from the CSV after
every point.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os
import time

from official.configs.config import ExperimentConfig
from official.training import loop
from official.training.runtime import get_strategy

FIELDS = [
    "key",
    "width",
    "depth",
    "resolution",
    "epochs",
    "norm",
    "batch_size",
    "top1",
    "top5",
    "train_seconds",
]


@dataclasses.dataclass(frozen=True)
class Point:
    width: float = 1.0
    depth: int = 50
    resolution: int = 224
    epochs: float = 10.0
    norm: str = "batch"
    batch_size: int = 0  # 0: the recipe's

    @property
    def key(self) -> str:
        return (
            f"w{self.width}_d{self.depth}_r{self.resolution}_e{self.epochs}_{self.norm}"
            f"_b{self.batch_size}"
        )


def scaling_grid(widths, depths, resolutions, epochs) -> list[Point]:
    return [
        Point(w, d, r, e) for w, d, r, e in itertools.product(widths, depths, resolutions, epochs)
    ]


def norm_grid(batch_sizes=(2, 4, 8, 16, 32), depth=26, width=0.25, epochs=2.0) -> list[Point]:
    return [
        Point(width, depth, 32, epochs, norm, b) for norm in ("batch", "group") for b in batch_sizes
    ]


def point_config(base: ExperimentConfig, point: Point) -> ExperimentConfig:
    """The base recipe with the point's width, depth, resolution, epochs, norm and batch."""
    config = dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, kwargs=dict(base.model.kwargs)),
        data=dataclasses.replace(base.data),
        train=dataclasses.replace(base.train),
    )
    config.model.kwargs.pop("block_repeats", None)  # depth decides the blocks
    config.model.kwargs.update(width_multiplier=point.width, depth=point.depth, norm=point.norm)
    config.data.image_size = point.resolution
    config.data.eval_image_size = point.resolution
    config.train.epochs = point.epochs
    if point.batch_size:
        config.data.train_batch_size = point.batch_size
        steps = config.train.total_steps(point.batch_size)
        config.train.steps_per_loop = max(1, min(config.train.steps_per_loop, steps))
    return config


def read_results(path: str) -> dict[str, dict]:
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {row["key"]: row for row in csv.DictReader(f)}


def append_result(path: str, row: dict) -> None:
    """One line per finished point, flushed and synced before the next point starts."""
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def train_point(config: ExperimentConfig, model_dir: str) -> dict:
    trainer = loop.Trainer(config, get_strategy(config.runtime.strategy), model_dir)
    start = time.perf_counter()
    loop.train(trainer, None)
    seconds = time.perf_counter() - start
    metrics = trainer.evaluate(loop.distributed_datasets(trainer, False))
    return {**metrics, "train_seconds": seconds}


def run_study(points, base: ExperimentConfig, out_dir: str, train=train_point, plot=None) -> list:
    """Trains every point not yet in out_dir/results.csv, then plot(rows, out_dir) after each;
    returns all rows."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "results.csv")
    for point in points:
        if point.key in read_results(path):
            continue
        metrics = train(point_config(base, point), os.path.join(out_dir, point.key))
        append_result(
            path,
            {
                **dataclasses.asdict(point),
                "key": point.key,
                "batch_size": point.batch_size or base.data.train_batch_size,
                "top1": metrics["top1"],
                "top5": metrics["top5"],
                "train_seconds": round(metrics["train_seconds"], 2),
            },
        )
        if plot:
            plot(list(read_results(path).values()), out_dir)
    return list(read_results(path).values())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scaling(rows: list[dict], out_dir: str):
    """scaling.png: top-1 vs training time, a panel per axis, a series per value of that axis."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, axis in zip(axes, ("width", "depth", "resolution"), strict=True):
        for value in sorted({r[axis] for r in rows}, key=float):
            series = sorted(
                (r for r in rows if r[axis] == value), key=lambda r: float(r["train_seconds"])
            )
            ax.plot(
                [float(r["train_seconds"]) for r in series],
                [float(r["top1"]) for r in series],
                "o-",
                label=f"{axis} {value}",
            )
        ax.set(xlabel="training time (s)", ylabel="top-1", title=f"by {axis}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "scaling.png"), dpi=100)
    plt.close(fig)
    return fig


def plot_norm(rows: list[dict], out_dir: str):
    """norm.png: validation error vs images per replica, a series per normalization."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for norm, label in (("batch", "BatchNorm"), ("group", "GroupNorm")):
        series = sorted((r for r in rows if r["norm"] == norm), key=lambda r: int(r["batch_size"]))
        ax.plot(
            [int(r["batch_size"]) for r in series],
            [100 * (1 - float(r["top1"])) for r in series],
            "o-",
            label=label,
        )
    ax.set_xscale("log", base=2)
    ax.set(xlabel="images per replica", ylabel="validation error (%)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "norm.png"), dpi=100)
    plt.close(fig)
    return fig
