"""What the training loop reports after each loop: TensorBoard summaries, and a progress bar per
loop on an interactive terminal (official/training/progress.py) or plain log lines elsewhere."""

from __future__ import annotations

import contextlib
import logging
import sys

import tensorflow as tf

from official.training import progress

log = logging.getLogger("official.train")


class Reporter:
    """Summaries under <model_dir>/train and /eval; the bar or the log line of each loop."""

    def __init__(self, model_dir: str | None, total_steps: int, stream=None):
        """model_dir None (workers other than the chief): no summaries and no bar."""
        writer = (
            tf.summary.create_file_writer
            if model_dir
            else lambda _: tf.summary.create_noop_writer()
        )
        self.train_writer = writer(f"{model_dir}/train")
        self.eval_writer = writer(f"{model_dir}/eval")
        stream = stream or sys.stdout
        self.bar = None
        if model_dir and progress.interactive(stream):
            self.bar = progress.LoopBar(total_steps, stream)

    def running(self, start: int, end: int, current_step):
        """While a loop of steps start..end runs: its bar on a terminal, nothing elsewhere."""
        return self.bar.running(start, end, current_step) if self.bar else contextlib.nullcontext()

    def train(self, m, skipped: int) -> None:
        """After a loop: m is the loop's training.loop.LoopMetrics."""
        with self.train_writer.as_default(step=m.step):
            tf.summary.scalar("loss", m.loss)
            tf.summary.scalar("top1", m.top1)
            tf.summary.scalar("learning_rate", m.learning_rate)
            tf.summary.scalar("images_per_second", m.images_per_second)
            tf.summary.scalar("skipped_records", skipped)
        if self.bar:
            self.bar.finish(
                m.step,
                f"loss {m.loss:.4f}  top1 {m.top1:.4f}  lr {m.learning_rate:.5f}  "
                f"{m.images_per_second:.1f} img/s",
            )
        else:
            log.info(
                "step %d  loss %.4f  top1 %.4f  lr %.5f  %.1f img/s  skipped records %d",
                m.step,
                m.loss,
                m.top1,
                m.learning_rate,
                m.images_per_second,
                skipped,
            )

    def flush(self) -> None:
        if self.bar:
            self.bar.close()
        self.train_writer.flush()
        self.eval_writer.flush()

    def eval(self, step: int, metrics: dict) -> None:
        with self.eval_writer.as_default(step=step):
            tf.summary.scalar("top1", metrics["top1"])
            tf.summary.scalar("top5", metrics["top5"])
        log.info(
            "eval at step %d: top1 %.4f  top5 %.4f  (%d images)",
            step,
            metrics["top1"],
            metrics["top5"],
            metrics["examples"],
        )
