"""Every program module imports into one process: pytest collects them all at once, and a flag
defined at import time by two of them (absl's DuplicateFlagError) stopped the whole suite once,
and a required flag defined at import time made every later parse of train.py's flags fail."""

import importlib

import pytest
from absl import flags

PROGRAMS = [
    "official.train",
    "official.export",
    "official.export_litert",
    "official.benchmark",
    "official.scaling",
    "official.pseudo_label",
    "official.predict",
    "official.data.build_tfrecords",
    "official.data.build_video_tfrecords",
    "official.training.continuous_eval",
    "official.weights.__main__",
]


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_imports_alongside_the_others(name):
    for other in PROGRAMS:
        importlib.import_module(other)
    assert importlib.import_module(name).__name__ == name


def test_no_program_defines_a_required_flag_on_import():
    for name in PROGRAMS:
        importlib.import_module(name)
    flags.FLAGS.validate_all_flags()  # raises IllegalFlagValueError for a required flag left None
