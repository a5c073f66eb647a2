"""Damage to a checkpoint's files, the three ways a user found them (issue 18): used by
tests/training/test_checkpoints.py and tests/training/test_jobs.py."""

import os

import numpy as np


def truncate_data(prefix):
    path = f"{prefix}.data-00000-of-00001"
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])


def garble_index(prefix):
    path = f"{prefix}.index"
    size = os.path.getsize(path)
    open(path, "wb").write(np.random.default_rng(0).bytes(size))


def zero_inside_data(prefix):
    """Zeroes 200 KB in the middle of .data (or its middle half, for a smaller file)."""
    path = f"{prefix}.data-00000-of-00001"
    data = bytearray(open(path, "rb").read())
    n = min(200_000, len(data) // 2)
    start = (len(data) - n) // 2
    data[start : start + n] = bytes(n)
    open(path, "wb").write(bytes(data))


CORRUPTIONS = {
    "truncated": truncate_data,
    "garbled_index": garble_index,
    "zeroed": zero_inside_data,
}
