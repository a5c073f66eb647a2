"""tf.data input pipelines: ImageNet-format TFRecords or TFDS datasets -> (images, labels) batches.

    dataset = build_dataset("train", config.data, input_context)

Training: shard files per input pipeline, shuffle files, parallel interleave, (cache), shuffle,
repeat, decode-and-crop + augment in parallel, skip undecodable records (counted), batch with
drop_remainder at the per-replica batch size, (mixup / CutMix), prefetch. Evaluation: the same
files in a fixed order, center crop, every record kept (an undecodable one raises), the last
partial batch kept; data.num_eval_images limits it to that many images. With `pad=True` (what
training uses on every strategy) every batch is full and the records are followed by masked
padding examples (docs/distributed.md, "Exact evaluation").
"""

from __future__ import annotations

import os

import tensorflow as tf

from official.configs.config import DataConfig
from official.data import augment, preprocess, randaugment, seeds, synthetic, tfrecord

AUTOTUNE = tf.data.AUTOTUNE


DECODE_CHUNK = 32  # training records decoded per inner dataset (SkippedRecords.decode)


class SkippedRecords:
    """Counts training records whose image could not be decoded; the pipeline skips them.

    Create it outside any strategy scope and pass it to `build_dataset`. `count` is cumulative and
    exact at the end of every epoch (each epoch ends with a sentinel record, see `_with_sentinel`).
    """

    def __init__(self):
        with tf.init_scope(), tf.device("/cpu:0"):
            self._variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped")

    def decode(self, dataset: tf.data.Dataset, fn, chunk: int = DECODE_CHUNK) -> tf.data.Dataset:
        """`fn(index, record)` of each (index, record) of `dataset` (numbered in order), in
        parallel and in order; a record whose `fn` fails (parsing or decoding) is skipped and
        counted. An error reading the records (a shard cut mid-record, a bad checksum) is
        raised, not skipped: `fn` runs on chunks of `chunk` records, each a dataset of its own
        whose errors alone are ignored. Images: chunks of 32, 4 at once, each decoded in
        parallel (benchmarks/skipping_decode.py on 2 cores: 0.98-1.11x the one map with
        ignore_errors it replaced, which swallowed the reading errors too). Clips: chunks of 1,
        as many at once as tf.data runs in parallel (32 buffered clips of 32 frames would take
        gigabytes; one inner dataset per clip is little beside its 32 decodes)."""

        def decode_chunk(indices, records):
            records = tf.data.Dataset.from_tensor_slices((indices, records))
            records = records.map(lambda i, r: (i, fn(i, r)), AUTOTUNE, deterministic=True)
            return records.ignore_errors()

        decoded = dataset.batch(chunk).interleave(
            decode_chunk,
            # Chunks decoding while one drains (2 measured 6% slower than 4); single clips:
            # tf.data's default, the number of cores.
            cycle_length=4 if chunk > 1 else AUTOTUNE,
            block_length=chunk,  # a whole chunk before the next: the records' order
            num_parallel_calls=AUTOTUNE,
            deterministic=True,
        )
        return self.counted(decoded)

    def counted(self, decoded: tf.data.Dataset) -> tf.data.Dataset:
        """The elements of `decoded`, (index, element) in index order with the skipped indices
        missing, without their index; the count of skipped ones kept up to date."""
        variable = self._variable

        def count(position, indexed):
            index, element = indexed
            # Records are numbered before decoding and kept in order, so a gap is a skip.
            with tf.control_dependencies([variable.assign(index - position)]):
                return tf.nest.map_structure(tf.identity, element)

        return decoded.enumerate().map(count)

    @property
    def count(self) -> int:
        return int(self._variable.numpy())


SENTINEL_LABEL = -1
# The label of an evaluation padding example: scored by no metric.
PADDING_LABEL = -1


def _with_sentinel(dataset: tf.data.Dataset, sentinel) -> tf.data.Dataset:
    """Appends `sentinel`, one tiny valid image labelled -1 once parsed (removed after
    decoding). A skipped record is seen as a gap before the next good one; the sentinel makes
    sure an epoch's last record has one."""
    return dataset.concatenate(tf.data.Dataset.from_tensors(sentinel))


def sentinel_jpeg() -> bytes:
    """The sentinel's image (image and clip pipelines): 8x8 black, a valid JPEG."""
    return tf.io.encode_jpeg(tf.zeros([8, 8, 3], tf.uint8)).numpy()


# ---- Sources: records, and how each becomes {'image_bytes', 'label'} --------------------------
def list_shards(data_dir: str, split: str) -> list[str]:
    pattern = os.path.join(data_dir, tfrecord.file_pattern(split))
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(
            f"No TFRecord shards match {pattern}: data_dir must hold files named like "
            f"{tfrecord.shard_name(split, 0, 1)} (see official/data/build_tfrecords.py)."
        )
    return files


def record_dataset(split, config, input_context, training) -> tf.data.Dataset:
    """The serialized records of `split`'s shards: this input pipeline's share of the files
    (shuffled when training), read interleaved. The image and video (official/data/video.py)
    sources parse them."""
    files = list_shards(config.data_dir, split)
    if training and config.pseudo_label_dir:
        files += list_shards(config.pseudo_label_dir, split)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if input_context and input_context.num_input_pipelines > 1:
        if len(files) < input_context.num_input_pipelines:
            raise ValueError(
                f"{len(files)} shards of {split!r} cannot be split over "
                f"{input_context.num_input_pipelines} input pipelines; write more shards."
            )
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if training:
        dataset = dataset.shuffle(len(files), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda f: tf.data.TFRecordDataset(f, buffer_size=8 << 20),
        cycle_length=min(16, len(files)),
        num_parallel_calls=AUTOTUNE,
        deterministic=not training or config.seed is not None,  # a seed asks for one order
    )
    return dataset


# Each source gives (elements, parse, sentinel): parse(element) -> {'image_bytes', 'label'} runs
# with the decoding, so that in training a record that does not parse is skipped and counted
# like an undecodable image; sentinel is the source's element for _with_sentinel.
def _tfrecord_source(split, config, input_context, training):
    def parse(record):
        example = tfrecord.parse_example(record, config.label_offset)
        return {"image_bytes": example["image_bytes"], "label": example["label"]}

    sentinel = tfrecord.encode_example(
        sentinel_jpeg(), SENTINEL_LABEL + config.label_offset, height=8, width=8
    )
    return record_dataset(split, config, input_context, training), parse, sentinel


def _tfds_source(name, split, config, input_context, training):
    import tensorflow_datasets as tfds  # imported only for tfds: sources

    builder = tfds.builder(name, data_dir=config.data_dir or None)
    if config.tfds_download:
        builder.download_and_prepare()
    elif not tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared under {builder.data_dir}; prepare it there, or "
            "set data.tfds_download=true to let TFDS download it."
        )
    read_config = tfds.ReadConfig(input_context=input_context, shuffle_seed=config.seed)
    dataset = builder.as_dataset(
        split=split,
        shuffle_files=training,
        read_config=read_config,
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    dataset = dataset.map(
        lambda ex: {"image_bytes": ex["image"], "label": tf.cast(ex["label"], tf.int32)}
    )
    sentinel = {"image_bytes": sentinel_jpeg(), "label": tf.constant(SENTINEL_LABEL, tf.int32)}
    return dataset, lambda element: element, sentinel


def _source(split, config, input_context, training):
    if config.source == "tfrecord":
        return _tfrecord_source(split, config, input_context, training)
    if config.source.startswith("tfds:"):
        return _tfds_source(config.source[5:], split, config, input_context, training)
    raise ValueError(f"data.source={config.source!r}; use 'tfrecord' or 'tfds:<name>'.")


# ---- Per-image preprocessing --------------------------------------------------------------------
def train_preprocess_fn(config: DataConfig, pipeline_id: int = 0):
    """(image bytes, example index) -> augmented, normalized [size, size, 3] image of
    config.dtype. Every random draw is stateless, seeded from config.seed, pipeline_id and the
    index, so the same seed gives the same images whatever the parallelism."""
    base = seeds.base_seed(config.seed)

    def fn(image_bytes, index):
        crop_seed, augment_seed = tf.unstack(
            tf.random.experimental.stateless_split(seeds.example_seed(base, pipeline_id, index), 2)
        )
        image = preprocess.crop_for_train(
            image_bytes,
            config.image_size,
            area_min=config.crop_area_min,
            padding=config.eval_crop_padding,
            seed=crop_seed,
            method=config.preprocessing,
            dtype=config.dtype,
        )
        if config.augmentation == "randaugment":
            image = randaugment.randaugment(
                image,
                config.randaugment_layers,
                config.randaugment_magnitude,
                config.randaugment_variant,
                seed=augment_seed,
            )
        elif config.augmentation == "bag_of_tricks":
            jitter_seed, lighting_seed = tf.unstack(
                tf.random.experimental.stateless_split(augment_seed, 2)
            )
            image = augment.color_jitter(tf.cast(image, tf.float32), seed=jitter_seed)
            image = augment.pca_lighting(image, seed=lighting_seed)
        return preprocess.normalize(
            image, config.dtype, config.preprocessing, config.given_mean_std
        )

    return fn


def eval_preprocess_fn(config: DataConfig):
    size = config.resolved_eval_image_size
    return lambda image_bytes: preprocess.preprocess_for_eval(
        image_bytes,
        size,
        config.dtype,
        config.eval_crop_padding,
        config.preprocessing,
        config.given_mean_std,
    )


def padded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` of (inputs, label), then zero inputs labelled PADDING_LABEL forever; labels
    int32. The inputs' shape must be static (an evaluation crop or its video views)."""
    spec = dataset.element_spec[0]
    if not spec.shape.is_fully_defined():
        raise ValueError(f"evaluation inputs of shape {spec.shape}: padding needs a static shape.")
    padding = (tf.zeros(spec.shape, spec.dtype), tf.constant(PADDING_LABEL, tf.int32))
    dataset = dataset.map(lambda x, y: (x, tf.cast(y, tf.int32)))
    return dataset.concatenate(tf.data.Dataset.from_tensors(padding).repeat())


# ---- The pipeline -------------------------------------------------------------------------------
def _pipeline_share(count: int, input_context: tf.distribute.InputContext | None) -> int:
    """This input pipeline's part of `count` examples: the parts differ by at most one and sum
    to `count`."""
    if not input_context or input_context.num_input_pipelines == 1:
        return count
    pipelines, index = input_context.num_input_pipelines, input_context.input_pipeline_id
    return count // pipelines + (1 if index < count % pipelines else 0)


def build_dataset(
    split: str,
    config: DataConfig,
    input_context: tf.distribute.InputContext | None = None,
    *,
    training: bool | None = None,
    repeat: bool | None = None,
    drop_remainder: bool | None = None,
    skipped: SkippedRecords | None = None,
    pad: bool = False,
) -> tf.data.Dataset:
    """Batches of (images, labels) for one input pipeline.

    training defaults to `split == config.train_split`; repeat (forever) defaults to training,
    drop_remainder to training or pad.
    Batches hold the per-replica share of the global batch size. Labels are int32 class indices,
    or float32 one-hot rows when mixup or CutMix is on. Training skips undecodable records and
    counts them in `skipped`; evaluation raises InvalidArgumentError on one.

    pad (evaluation): the records are followed by an endless stream of zero images labelled
    PADDING_LABEL and every batch is full. Shapes stay static (TPUs need a full batch on every
    replica), every record lands in exactly one batch, and the consumer stops at the first step
    in which no replica got a real record (`official.training.evaluate.Evaluator`).
    """
    training = split == config.train_split if training is None else training
    repeat = training if repeat is None else repeat
    global_batch = config.train_batch_size if training else config.eval_batch_size
    batch_size = (
        input_context.get_per_replica_batch_size(global_batch) if input_context else global_batch
    )
    if config.source == "synthetic":
        return synthetic.synthetic_dataset(config, batch_size, training)
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    preprocess_fn = (
        train_preprocess_fn(config, pipeline_id) if training else eval_preprocess_fn(config)
    )

    dataset, parse, sentinel = _source(split, config, input_context, training)

    def to_example(element, *index):  # training passes the example's index, for its seed
        example = parse(element)
        return preprocess_fn(example["image_bytes"], *index), example["label"]

    if not training and config.num_eval_images:
        dataset = dataset.take(_pipeline_share(config.num_eval_images, input_context))
    if config.cache:
        dataset = dataset.cache()
    if training:
        dataset = _with_sentinel(dataset.shuffle(config.shuffle_buffer, seed=config.seed), sentinel)
    if repeat:
        dataset = dataset.repeat()
    if training:
        dataset = (skipped or SkippedRecords()).decode(
            dataset.enumerate(), lambda i, e: to_example(e, i)
        )
        dataset = dataset.filter(lambda image, label: label != SENTINEL_LABEL)
    else:
        dataset = dataset.map(to_example, num_parallel_calls=AUTOTUNE, deterministic=True)
        if pad:
            dataset = padded(dataset)
    drop_remainder = training or pad if drop_remainder is None else drop_remainder
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    mixer = augment.batch_mixer(config.mixup_alpha, config.cutmix_alpha, config.seed)
    if mixer is not None:
        one_hot = lambda x, y: (x, tf.one_hot(y, config.num_classes))  # noqa: E731
        dataset = dataset.map(one_hot)
        if training:
            dataset = dataset.map(mixer, num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)
