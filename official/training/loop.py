"""The distributed training loop behind official/train.py.

The model stays a plain Keras model; this loop drives it on any tf.distribute strategy (Keras'
`fit` does not run under MultiWorkerMirroredStrategy, keras-team/keras#20585). `steps_per_loop`
steps run inside one tf.function on the device; the host then checks the loss for NaN/Inf,
logs, writes summaries and saves a checkpoint, and evaluates when due.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time

import keras
import tensorflow as tf

from official import models
from official.configs.config import ExperimentConfig
from official.data import pipeline, video
from official.models import freezing
from official.training import (
    checkpoints,
    distillation_teacher,
    ema,
    evaluate,
    finetune,
    losses,
    optimizer,
    preemption,
    randomness,
    remat,
    replica_gradients,
    reporter,
    run_dir,
    runtime,
)
from official.training.divergence import DivergenceGuard, TrainingDiverged  # noqa: F401

log = logging.getLogger("official.train")


# ---- Model ----
def build_model(config: ExperimentConfig) -> keras.Model:
    kwargs = {"num_classes": config.data.num_classes, **config.model.kwargs}
    return models.get(config.model.name, **kwargs)


def is_classifier(variable) -> bool:
    """The final dense layer, which AGC leaves unclipped (NFNets, section 4.1)."""
    return variable.path.startswith("classifier/")


# ---- The trainer ----
@dataclasses.dataclass
class LoopMetrics:
    step: int
    loss: float
    top1: float
    learning_rate: float
    images_per_second: float
    steps: int  # run in this loop: fewer than asked after a preemption request


class Trainer:
    """Model, optimizer, EMA and checkpoint of one run, built inside `strategy.scope()`."""

    def __init__(
        self,
        config: ExperimentConfig,
        strategy: tf.distribute.Strategy,
        model_dir: str,
        loss_scale: bool = False,
    ):
        self.config = config
        self.strategy = strategy
        self.model_dir = model_dir  # the run's: the chief's checkpoints, summaries, weights
        self.is_chief = checkpoints.is_chief(strategy)
        self.global_batch = config.data.train_batch_size
        self.steps_per_epoch = config.train.steps_per_epoch(self.global_batch)
        self.total_steps = config.train.total_steps(self.global_batch)
        self.loss_scale = loss_scale
        if loss_scale and config.optimizer.agc_clip:
            raise ValueError(
                "optimizer.agc_clip with float16 loss scaling is not supported; "
                "train in bfloat16 or float32 (runtime.precision)."
            )
        # Every initializer and random layer draws its seed from Python's `random` when it is
        # created: seeding here makes the initial weights a function of runtime.seed alone.
        keras.utils.set_random_seed(config.runtime.seed)
        with strategy.scope():
            self.model = build_model(config)
        if self.model.compute_dtype == "bfloat16" and runtime.device_kind(strategy) == "cpu":
            kept = runtime.cpu_bfloat16_layers(self.model)
            if kept:
                log.info(
                    "%d layers (%s) compute in float32 under bfloat16 on this CPU, where their "
                    "bfloat16 kernels are slower (docs/distributed.md, 'Precision').",
                    len(kept),
                    ", ".join(sorted({type(layer).__name__ for layer in kept})),
                )
        self.replica_seeds = randomness.ReplicaSeeds(self.model, config.runtime.seed)
        if config.train.init_weights:
            # Before the EMA copies the weights; a resumed run's restore() overwrites them.
            finetune.initialize_from(self.model, config.train.init_weights)
        # Fine-tuning controls: frozen parts before the optimizer, which then holds slots for
        # what can ever train; the head-only phase freezes the rest later (_enter_phase).
        finetune.apply_freezing(self.model, config.train)
        self.head_only_steps = finetune.head_only_steps(config.train, self.steps_per_epoch)
        self.forward = remat.forward(self.model, config.train.remat)
        with strategy.scope():
            self.schedule = optimizer.learning_rate_schedule(
                config.optimizer, self.global_batch, self.steps_per_epoch, self.total_steps
            )
            self.optimizer = optimizer.build_optimizer(
                config.optimizer, self.model, self.schedule, loss_scale
            )
            decay = config.optimizer.ema_decay
            self.ema = ema.ModelEMA(self.model, decay) if decay else None
        teacher = config.train.teacher
        self.teacher = distillation_teacher.load(teacher, config.data) if teacher else None
        objects = {"model": self.model, "optimizer": self.optimizer}
        if self.ema is not None:
            objects["ema"] = self.ema
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            checkpoints.worker_dir(strategy, model_dir),
            max_to_keep=config.train.max_checkpoints,
        )
        self.preemption = preemption.PreemptionWatcher()
        self.head_only = None
        self._enter_phase(head_only=self.head_only_steps > 0)
        self.evaluator = evaluate.Evaluator(
            self.model, strategy, config.data.num_classes, video=config.data.kind == "video"
        )

    def _enter_phase(self, head_only: bool) -> None:
        """Sets the trainable flags of the head-only phase (or of after it) and traces the step
        functions again for them: once per phase change, not per step."""
        if head_only == self.head_only:
            return
        self.head_only = head_only
        finetune.apply_freezing(self.model, self.config.train, head_only=head_only)
        config = self.config.optimizer
        self.l2_variables = (
            [v for v in optimizer.decayed_variables(self.model) if v.trainable]
            if config.weight_decay_type == "l2" and config.weight_decay
            else []
        )
        self._train_loop = tf.function(self._train_loop_fn)
        # The replica step, and the forward and backward pass it calls: XLA-compiled or not.
        self._replica_step_fn, self._gradients = self._replica_step, self._forward_backward
        if self.config.runtime.xla:
            self._replica_step_fn, self._gradients = runtime.compile_step(
                self.strategy, self._replica_step, self._forward_backward
            )

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def averaged_weights(self):
        """A context in which the model holds the EMA weights (when the run has EMA): what
        evaluation, the weights file and the export use."""
        return self.ema.swapped() if self.ema is not None else contextlib.nullcontext()

    def save_weights_file(self) -> str:
        """model_dir/model.weights.h5 (EMA weights when the run has EMA), for users'
        `official.models.get(name, ...).load_weights(path)`."""
        path = f"{self.model_dir}/model.weights.h5"
        with self.averaged_weights():
            run_dir.write_atomically(path, self.model.save_weights)
        return path

    def restore(self) -> int:
        """Restores the newest checkpoint of model_dir (the chief's, on every worker) that
        restores completely, walking back over corrupt ones (checkpoints.restore_latest);
        returns the step. Workers that would resume from different steps or weights raise
        RuntimeError."""
        path = checkpoints.restore_latest(self.checkpoint, self.model_dir)
        if path:
            digest = checkpoints.weights_digest(self.model)
            log.info("restored %s at step %d (weights digest %x)", path, self.step, digest)
        if path != self.manager.latest_checkpoint:  # fell back: the manager re-reads the state
            self.manager = tf.train.CheckpointManager(
                self.checkpoint,
                checkpoints.worker_dir(self.strategy, self.model_dir),
                max_to_keep=self.config.train.max_checkpoints,
            )
        checkpoints.check_agreement(self.strategy, self.step, self.model, self.model_dir)
        return self.step

    def save(self) -> None:
        """A checkpoint at the current step. Every worker saves (saving is collective); the
        others' copies are removed again at once."""
        checkpoints.save(self.manager, self.step)  # a failed write: one line
        checkpoints.remove_worker_dir(self.strategy, self.model_dir)

    # ---- training step ----
    def _forward_backward(self, images, labels):
        """One replica's loss, gradients and correct count; no cross-replica communication."""
        config = self.config
        variables = self.model.trainable_variables
        self.replica_seeds.reseed(self.optimizer.iterations)
        with tf.GradientTape() as tape:
            logits = self.forward(images, training=True)
            per_example = losses.cross_entropy(
                labels, logits, config.data.num_classes, config.optimizer.label_smoothing
            )
            if self.teacher is not None and config.train.distillation_weight:
                weight = config.train.distillation_weight
                soft = losses.distillation(
                    logits, self.teacher(images), config.train.distillation_temperature
                )
                per_example = (1.0 - weight) * per_example + weight * soft
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
            if self.l2_variables:
                # Summed over replicas like the per-example part, so divided by their count.
                loss += tf.nn.scale_regularization_loss(
                    optimizer.l2_penalty(self.l2_variables, config.optimizer.weight_decay)
                )
            scaled = self.optimizer.scale_loss(loss) if self.loss_scale else loss
        grads = tape.gradient(scaled, variables)
        label_ids = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=-1)
        correct = tf.reduce_sum(
            tf.cast(
                tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(label_ids, tf.int32)),
                tf.float32,
            )
        )
        return loss, grads, correct, tf.cast(tf.shape(logits)[0], tf.float32)

    def _replica_step(self, images, labels):
        loss, grads, correct, seen = self._gradients(images, labels)
        variables = self.model.trainable_variables
        # Both need the whole global batch's gradient (docs/REFERENCE.md §2.7), so they run
        # here, outside the per-replica XLA program, where cross-replica sums are allowed.
        if self.config.optimizer.agc_clip:
            grads = replica_gradients.clip_summed_gradients(
                grads, variables, self.config.optimizer.agc_clip, skip=is_classifier
            )
        elif self.loss_scale:
            grads = replica_gradients.agree_on_finiteness(grads)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        if self.ema is not None:
            self.ema.update()
        return loss, correct, seen

    def _replica_local_variables(self) -> list:
        """Variables each replica updates on its own: Keras 3 BN moving statistics (created with
        no cross-replica aggregation) and the EMA shadows; not the frozen parts' weights, which
        no replica changes."""
        fixed = {id(v) for v in freezing.frozen_weights(self.model)}
        stats = [
            v.value
            for v in self.model.non_trainable_weights
            if "seed_generator" not in v.path and id(v) not in fixed
        ]
        return stats + (list(self.ema.shadows) if self.ema is not None else [])

    def _sync_replicas(self):
        """Sets every replica-local variable to its mean over the replicas. The moving averages
        are linear in the batch statistics, so one mean per loop equals a mean every step."""
        variables = self._replica_local_variables()
        if not variables:  # e.g. a normalizer-free network without EMA
            return
        context = tf.distribute.get_replica_context()
        means = context.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.identity(v) for v in variables])
        for variable, mean in zip(variables, means, strict=True):
            variable.assign(mean)

    def _train_loop_fn(self, iterator, steps):
        """Up to `steps` steps; fewer when a preemption is requested (checked before each)."""
        total_loss, correct, seen = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
        done = tf.constant(0)
        while done < steps and not self.preemption.stop_requested(self.strategy):
            images, labels = next(iterator)
            outs = self.strategy.run(self._replica_step_fn, args=(images, labels))
            loss, step_correct, step_seen = (
                self.strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in outs
            )
            total_loss += loss
            correct += step_correct
            seen += step_seen
            done += 1
        if self.strategy.num_replicas_in_sync > 1:
            self.strategy.run(self._sync_replicas)
        mean_loss = total_loss / tf.cast(tf.maximum(done, 1), tf.float32)
        return mean_loss, correct / tf.maximum(seen, 1.0), done

    def train_loop(self, iterator, steps: int) -> LoopMetrics:
        """Runs the loop on a second thread, so that SIGTERM is handled while it runs; raises
        preemption.LoopAbandoned on a SIGTERM before the loop's first step. A loop never
        crosses the end of the head-only phase: it stops there (LoopMetrics.steps says so)."""
        if self.step < self.head_only_steps:
            steps = min(steps, self.head_only_steps - self.step)
        self._enter_phase(head_only=self.step < self.head_only_steps)
        start, first_step = time.perf_counter(), self.step
        loss, top1, done = preemption.run_in_thread(
            self._train_loop,
            iterator,
            tf.constant(steps),
            give_up=lambda: self.preemption.requested and self.step == first_step,
        )
        elapsed = time.perf_counter() - start
        return LoopMetrics(
            self.step,
            float(loss),
            float(top1),
            float(self.schedule(self.step)),
            int(done) * self.global_batch / elapsed,
            int(done),
        )

    # ---- evaluation ----
    def evaluate(self, dataset) -> dict:
        """Top-1/top-5 over one pass of `dataset`, with the EMA weights when the run has EMA."""
        with self.averaged_weights():
            return self.evaluator(dataset)


# ---- The run ----
def distributed_datasets(trainer: Trainer, training: bool, skipped=None):
    config = trainer.config.data
    split = config.train_split if training else config.eval_split
    tpu = isinstance(trainer.strategy, tf.distribute.TPUStrategy)

    build = pipeline.build_dataset
    if config.kind == "video":
        build = video.dataset_builder(trainer.config.video)

    def dataset_fn(context):
        return build(
            split,
            config,
            context,
            training=training,
            drop_remainder=True if tpu else None,
            skipped=skipped,
            pad=not training,  # exact evaluation with static shapes, on every strategy
        )

    return trainer.strategy.distribute_datasets_from_function(dataset_fn)


def train(trainer: Trainer, evaluate: bool) -> dict:
    """Trains to the configured step count from wherever the checkpoint left off; with
    `evaluate`, evaluates every train.eval_every_epochs / eval_every_steps and at the end."""
    config = trainer.config
    start = trainer.restore()
    skipped = pipeline.SkippedRecords()
    iterator = iter(distributed_datasets(trainer, True, skipped))
    eval_every = config.train.eval_interval(trainer.global_batch) if evaluate else None
    report = reporter.Reporter(trainer.model_dir if trainer.is_chief else None, trainer.total_steps)
    guard = DivergenceGuard.for_config(config)
    results, metrics = {}, None
    with trainer.preemption as watcher:
        log.info("training from step %d to %d", trainer.step, trainer.total_steps)
        while trainer.step < trainer.total_steps:
            step = trainer.step
            boundary = min(trainer.total_steps, step + config.train.steps_per_loop)
            if eval_every:
                boundary = min(boundary, (step // eval_every + 1) * eval_every)
            if step < trainer.head_only_steps:
                boundary = min(boundary, trainer.head_only_steps)
            try:
                with report.running(step, boundary, lambda: trainer.step):
                    metrics = trainer.train_loop(iterator, boundary - step)
            except preemption.LoopAbandoned:
                log.warning("SIGTERM before any step since step %d: nothing new to save.", step)
                report.flush()
                raise
            saved = False
            if metrics.steps:  # none when SIGTERM came before the loop's first step
                last = trainer.manager.latest_checkpoint
                try:  # False: above the threshold, not saved
                    saved = guard.check(metrics.loss, metrics.step, last)
                except TrainingDiverged:
                    report.flush()  # ends an open progress bar's line
                    raise
                report.train(metrics, skipped.count)
                if saved:
                    trainer.save()
            if watcher.requested:
                if saved:
                    log.warning(
                        "SIGTERM: checkpoint saved at step %d; rerun to resume.", trainer.step
                    )
                elif metrics.steps:
                    log.warning(
                        "SIGTERM: step %d not saved (its loss is above the divergence "
                        "threshold); rerun to resume from %s.",
                        trainer.step,
                        trainer.manager.latest_checkpoint,
                    )
                else:
                    log.warning("SIGTERM before any step since step %d: nothing new to save.", step)
                report.flush()
                raise preemption.Preempted()
            if eval_every and (
                trainer.step % eval_every == 0 or trainer.step == trainer.total_steps
            ):
                results = trainer.evaluate(distributed_datasets(trainer, False))
                report.eval(trainer.step, results)
    guard.finish(trainer.manager.latest_checkpoint)
    if trainer.is_chief:
        trainer.save_weights_file()
    results["start_step"] = start
    results["train_loss"] = metrics.loss if metrics else float("nan")
    results["skipped_records"] = skipped.count
    return results
