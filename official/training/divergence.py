"""The loop's health check after every loop: a NaN/Inf loss, or a finite loss that diverged.

A loss above `train.divergence_factor` times the first loop's loss for `train.divergence_loops`
loops in a row stops the run like a NaN does (a learning rate 50x too high gives a finite loss
of 1e7 with top-1 at chance, which must not be exported as a trained model). Those loops are not
checkpointed, so the last checkpoint is the last good one and a rerun resumes from it.

The reference is the first loop of this process (after a resume, the first loop after it), or
the loss of a uniform guess over the classes, ln(num_classes), when that is smaller: a run can
diverge within its first loop (no warmup, a huge learning rate), and then its first loss is no
yardstick. A model that has learned anything has a loss below ln(num_classes).
"""

from __future__ import annotations

import logging
import math

log = logging.getLogger("official.train")


class TrainingDiverged(RuntimeError):
    """The loss became NaN/Inf or diverged; the last good checkpoint is kept."""


class DivergenceGuard:
    def __init__(self, factor: float, loops: int, chance_loss: float | None = None):
        self.factor = factor  # 0: only NaN/Inf stop the run
        self.loops = loops
        self.chance_loss = chance_loss
        self.reference: float | None = None
        self.streak = 0

    @classmethod
    def for_config(cls, config) -> DivergenceGuard:
        train = config.train
        return cls(
            train.divergence_factor, train.divergence_loops, math.log(config.data.num_classes)
        )

    def check(self, loss: float, step: int, last_checkpoint: str | None) -> bool:
        """True when the loop that ended at `step` with `loss` may be checkpointed. Raises
        TrainingDiverged for a NaN/Inf loss, or on the `loops`-th loop in a row above
        factor x the reference loss."""
        kept = f"The last good checkpoint ({last_checkpoint or 'none'}) is kept"
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"loss is {loss} at step {step}: training stopped. {kept}; lower the learning "
                "rate or check the data, then rerun to resume from it."
            )
        if self.reference is None:
            self.reference = min(loss, self.chance_loss or loss)
        if not self.factor or loss <= self.factor * self.reference:
            self.streak = 0
            return True
        self.streak += 1
        if self.streak >= self.loops:
            raise TrainingDiverged(
                f"loss {loss:.4g} at step {step} stayed above {self.factor:g} x the reference "
                f"{self.reference:.4g} for {self.loops} loops: the run diverged and was "
                f"stopped. {kept}; lower optimizer.base_learning_rate or check the data, then "
                "rerun to resume from it (train.divergence_factor: 0 turns this check off)."
            )
        log.warning(
            "loss %.4g at step %d is above %g x the reference %.4g (%d of %d loops): not "
            "checkpointed",
            loss,
            step,
            self.factor,
            self.reference,
            self.streak,
            self.loops,
        )
        return False

    def finish(self, last_checkpoint: str | None) -> None:
        """At the end of the run: raises TrainingDiverged when its last loops were above the
        threshold (fewer than `loops` of them), so that a diverging model is never exported."""
        if self.streak:
            raise TrainingDiverged(
                f"the run ended with {self.streak} loop(s) above {self.factor:g} x the reference "
                f"loss {self.reference:.4g}: those weights are not kept. The last good "
                f"checkpoint ({last_checkpoint or 'none'}) is kept; lower "
                "optimizer.base_learning_rate or check the data."
            )
