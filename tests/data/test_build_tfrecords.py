import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from official.data import build_tfrecords, tfrecord
from tests.data.conftest import encode


def _tree(root, photos):
    """train/validation folders of real images in several formats, plus one broken file."""
    files = {
        "train/cat/chelsea.jpg": encode(photos["chelsea"]),
        "train/cat/chelsea_gray.png": encode(photos["chelsea"], "PNG", mode="L"),
        "train/cat/broken.jpg": encode(photos["chelsea"])[:400],  # truncated JPEG
        "train/space/astronaut.png": encode(photos["astronaut"], "PNG"),
        "train/space/rocket_cmyk.jpg": encode(photos["rocket"], mode="CMYK"),
        "train/space/notes.txt": b"not an image",
        "validation/cat/coffee.jpg": encode(photos["coffee"]),
        "validation/space/rocket.jpg": encode(photos["rocket"]),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _read(output_dir, split):
    pattern = str(output_dir / tfrecord.file_pattern(split))
    out = {}
    for record in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern))):
        example = tf.train.Example.FromString(record.numpy()).features.feature
        parsed = tfrecord.parse_example(record)
        image = tf.io.decode_jpeg(parsed["image_bytes"]).numpy()
        name = example["image/filename"].bytes_list.value[0].decode()
        assert example["image/format"].bytes_list.value[0] == b"JPEG"
        assert image.shape[2] == 3
        assert (
            example["image/height"].int64_list.value[0],
            example["image/width"].int64_list.value[0],
        ) == image.shape[:2]
        out[name] = (int(parsed["label"]), image.shape[:2])
    return out


@pytest.mark.slow
def test_converter_round_trip_reencodes_and_reports_broken_files(tmp_path, photos):
    _tree(tmp_path / "raw", photos)
    main = [
        sys.executable,
        "-m",
        "official.data.build_tfrecords",
        f"--input_dir={tmp_path / 'raw'}",
        f"--output_dir={tmp_path / 'out'}",
        "--train_shards=2",
        "--validation_shards=1",
        "--num_workers=2",
    ]
    result = subprocess.run(main, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "wrote 6 images (train 4, validation 2) of 2 classes" in result.stdout
    assert "skipped 2 files that are not decodable images" in result.stdout
    assert "broken.jpg" in result.stdout and "notes.txt" in result.stdout

    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.json",
        "labels.json",
        "train-00000-of-00002",
        "train-00001-of-00002",
        "validation-00000-of-00001",
    ]
    assert json.loads((out / "labels.json").read_text()) == {"0": "cat", "1": "space"}
    record = json.loads((out / "dataset.json").read_text())
    assert record == {
        "classes": ["cat", "space"],
        "label_offset": 1,
        "examples": {"train": 4, "validation": 2},  # the broken files are not counted
        "shards": {p.name: p.stat().st_size for p in out.glob("*-of-*")},
    }
    train = _read(out, "train")
    assert train == {
        "chelsea.jpg": (0, (300, 451)),
        "chelsea_gray.png": (0, (300, 451)),
        "astronaut.png": (1, (512, 512)),
        "rocket_cmyk.jpg": (1, (427, 640)),
    }
    assert _read(out, "validation") == {
        "coffee.jpg": (0, (400, 600)),
        "rocket.jpg": (1, (427, 640)),
    }
    # An RGB JPEG is stored byte for byte.
    stored = [r.numpy() for r in tf.data.TFRecordDataset(str(out / "validation-00000-of-00001"))]
    originals = {encode(photos["coffee"]), encode(photos["rocket"])}
    assert {tfrecord.parse_example(r)["image_bytes"].numpy() for r in stored} == originals


@pytest.mark.slow
def test_converter_fails_when_no_image_can_be_read(tmp_path):
    (tmp_path / "raw/train/a").mkdir(parents=True)
    (tmp_path / "raw/train/a/x.jpg").write_bytes(b"garbage")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "official.data.build_tfrecords",
            f"--input_dir={tmp_path / 'raw'}",
            f"--output_dir={tmp_path / 'out'}",
            "--num_workers=1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "error: no image could be read" in result.stderr


def test_imagenet_validation_labels_file(tmp_path, photos):
    val = tmp_path / "validation"
    val.mkdir()
    for name in ("ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000001.JPEG"):
        (val / name).write_bytes(encode(photos["coffee"]))
    labels = tmp_path / "labels.txt"
    labels.write_text("n02\nn01\n")
    items = build_tfrecords.scan_imagenet_validation(str(val), str(labels), ["n01", "n02"])
    assert [(p.split("/")[-1], c) for p, c in items] == [
        ("ILSVRC2012_val_00000001.JPEG", 1),
        ("ILSVRC2012_val_00000002.JPEG", 0),
    ]
    labels.write_text("n02\n")
    try:
        build_tfrecords.scan_imagenet_validation(str(val), str(labels), ["n01", "n02"])
    except ValueError as e:
        assert "1 labels for 2 files" in str(e)
    else:
        raise AssertionError("a short labels file must be rejected")
    np.testing.assert_equal(len(items), 2)


@pytest.mark.parametrize("existing", [False, True])
def test_a_conversion_that_fails_midway_leaves_the_output_folder_as_it_was(
    existing, tmp_path, photos, monkeypatch, capsys
):
    """An encoder error that is not a bad file (here a RuntimeError on the 3rd image), in
    process with one worker: one line naming the file; no shard, .tmp file or labels.json is
    left, and a folder that was there keeps its own files."""
    from tests.command_line import program_flags

    _tree(tmp_path / "raw", photos)
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    real, seen = build_tfrecords.encode_image, []

    def third_fails(file, label, synset):
        seen.append(file)
        if len(seen) == 3:
            raise RuntimeError("the encoder's own bug")
        return real(file, label, synset)

    monkeypatch.setattr(build_tfrecords, "encode_image", third_fails)
    argv = [f"--input_dir={tmp_path / 'raw'}", f"--output_dir={out}", "--num_workers=1"]
    values, _ = program_flags(build_tfrecords, argv)
    assert build_tfrecords.run(values) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: the conversion stopped at {seen[2]}: RuntimeError: the encoder's own bug; "
        f"nothing of it was left in {out}."
    ]
    if existing:
        assert [p.name for p in out.iterdir()] == ["notes.txt"]
        assert (out / "notes.txt").read_text() == "mine"
    else:
        assert not out.exists()
