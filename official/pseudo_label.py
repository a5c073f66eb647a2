"""Pseudo labels, Noisy Student style (docs/REFERENCE.md §2.4; library in
official/training/pseudo_labeling.py):
a teacher labels unlabeled images, and a student trains on the labeled and the pseudo-labeled
shards together, with its noise (RandAugment, dropout, stochastic depth) on.

    # 1. the teacher (a training run's directory or a .keras file) labels the unlabeled images
    #    (TFRecord shards in the ImageNet schema, labels ignored, or a folder of image files)
    python -m official.pseudo_label --teacher=runs/teacher --unlabeled=/data/unlabeled \
        --out_dir=/data/pseudo --min_confidence=0.3
    # 2. the student trains on both; train.num_train_images = labeled + the kept count printed
    python official/train.py --config=resnetrs50_i160 --params_override='{
        "data.pseudo_label_dir": "/data/pseudo", "train.num_train_images": 2581167}'
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402


def define_flags() -> None:
    """Defined only when run as a program (train.py defines --image_size too)."""
    from official.console import quiet_start

    quiet_start.import_tensorflow()
    from official.data.tfrecord import LABEL_OFFSET

    flags.DEFINE_string("teacher", None, "A training run's directory or a .keras file.")
    flags.DEFINE_string("unlabeled", None, "TFRecord shards (labels ignored) or image folder.")
    flags.DEFINE_string("out_dir", None, "Where the pseudo-labeled shards go.")
    flags.DEFINE_string("split", "train", "Shard name prefix of the unlabeled shards.")
    flags.DEFINE_string(
        "out_split", "train", "Shard name prefix written: the student's train split."
    )
    flags.DEFINE_integer("num_shards", 64, "Output shards for a folder of image files.")
    flags.DEFINE_float("min_confidence", 0.3, "Keep images whose top probability reaches this.")
    flags.DEFINE_integer("label_offset", LABEL_OFFSET, "Added to class indices on disk.")
    flags.DEFINE_integer("image_size", 0, "The teacher's eval size (0: from the teacher).")
    flags.DEFINE_integer("batch_size", 64, "Teacher batch size.")


def run(args: dict) -> int:
    """Labels args['unlabeled'] with args['teacher'] into args['out_dir'] and prints the totals;
    an error is one line and exit status 2."""
    if not args["teacher"] or not args["unlabeled"] or not args["out_dir"]:
        print("error: --teacher, --unlabeled and --out_dir are required.", file=sys.stderr)
        return 2
    from official.training import pseudo_labeling

    try:
        teacher = pseudo_labeling.load_teacher(args["teacher"], args["image_size"])
        totals = pseudo_labeling.pseudo_label(
            teacher,
            args["unlabeled"],
            args["out_dir"],
            split=args["split"],
            out_split=args["out_split"],
            num_shards=args["num_shards"],
            min_confidence=args["min_confidence"],
            label_offset=args["label_offset"],
            batch_size=args["batch_size"],
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    kept = totals["kept"] + totals["kept_before"]
    print(
        f"kept {totals['kept']} of {totals['seen']} images at confidence >= "
        f"{args['min_confidence']} ({totals['kept_before']} more in shards written before); "
        f"{len(totals['per_class'])} classes represented"
    )
    for path, reason in totals["unreadable"]:
        print(f"  skipped {path}: {reason}")
    print(
        f'train with data.pseudo_label_dir="{args["out_dir"]}" and train.num_train_images = '
        f"the labeled count + {kept}"
    )
    return 0


def main(argv):
    del argv
    sys.exit(run(flags.FLAGS.flag_values_dict()))


if __name__ == "__main__":
    define_flags()
    from official.console import program

    program.run(main)
