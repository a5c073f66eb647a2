"""The ResNet-RS paper's scaling study (section 7) and the GroupNorm paper's batch-size study,
as drivers that train a grid of points and append each result to a CSV as it finishes
(official/training/studies.py).

    # width x depth x resolution grid, each point trained for an epoch budget, then evaluated
    python -m official.scaling --study=scaling --config=sample --widths=0.25,0.5 \
        --depths=26,50 --resolutions=24,32 --epochs=2 --out_dir=runs/scaling
    # BN vs GN at per-replica batch sizes 2..32 (Wu & He 2018, figure 1)
    python -m official.scaling --study=norm --config=sample --out_dir=runs/norm_study

A point already in results.csv is never trained again, so an interrupted study resumes where it
stopped (a point interrupted mid-way resumes from its own checkpoints). The plots are rewritten
from the CSV after every point.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402


def define_flags() -> None:
    """Defined only when run as a program (train.py defines --config too)."""
    flags.DEFINE_enum("study", "scaling", ["scaling", "norm"], "Which study.")
    flags.DEFINE_string("config", "sample", "The recipe every point starts from.")
    flags.DEFINE_string("params_override", "", "YAML/JSON overrides of that recipe.")
    flags.DEFINE_list("widths", ["0.25"], "Width multipliers.")
    flags.DEFINE_list("depths", ["26"], "Depths.")
    flags.DEFINE_list("resolutions", ["32"], "Image sizes.")
    flags.DEFINE_list("epochs", ["2"], "Epoch budgets (10/100/350 regimes in the paper).")
    flags.DEFINE_list("batch_sizes", ["2", "4", "8", "16", "32"], "Norm study batch sizes.")
    flags.DEFINE_string("out_dir", "runs/scaling", "results.csv, the plots and one run per point.")


def run(args: dict) -> int:
    """Runs the study `args` (the flag values) describe and prints one line per point."""
    from official.console import quiet_start

    tf = quiet_start.import_tensorflow()
    from official.configs import overrides, recipes
    from official.training import studies

    base = recipes.get(args["config"])
    if args["params_override"]:
        overrides.apply_overrides(base, overrides.parse_override_text(args["params_override"]))
    if args["config"] == "sample" and not base.data.data_dir:
        from official.data import samples

        base.data.data_dir = samples.build()
    if args["study"] == "norm":
        points = studies.norm_grid(
            [int(b) for b in args["batch_sizes"]], epochs=float(args["epochs"][0])
        )
    else:
        points = studies.scaling_grid(
            [float(w) for w in args["widths"]],
            [int(d) for d in args["depths"]],
            [int(r) for r in args["resolutions"]],
            [float(e) for e in args["epochs"]],
        )
    tf.get_logger().setLevel("WARNING")
    plot = studies.plot_norm if args["study"] == "norm" else studies.plot_scaling
    rows = studies.run_study(points, base, args["out_dir"], plot=plot)
    for row in rows:
        print(f"{row['key']}: top-1 {float(row['top1']):.4f}, {row['train_seconds']} s")
    return 0


def main(argv):
    del argv
    sys.exit(run(flags.FLAGS.flag_values_dict()))


if __name__ == "__main__":
    define_flags()
    from official.console import program

    program.run(main)
