"""The divergence guard (official/training/divergence.py) on loss sequences; a diverging run
end to end is in tests/training/test_jobs.py."""

import math

import pytest

from official.training.divergence import DivergenceGuard, TrainingDiverged


def _run(guard, losses):
    """The loop's use of the guard: which loops would be checkpointed."""
    return [guard.check(loss, 10 * (i + 1), "ckpt-last") for i, loss in enumerate(losses)]


def test_healthy_training_is_always_checkpointed():
    guard = DivergenceGuard(10.0, 3, math.log(10))
    assert _run(guard, [2.3, 2.0, 1.4, 1.6, 0.9, 0.7]) == [True] * 6
    guard.finish("ckpt-60")  # nothing to complain about


def test_k_times_the_first_loop_for_n_loops_stops_and_keeps_the_last_good_checkpoint():
    guard = DivergenceGuard(10.0, 3)
    # first loop 1.0: a loss above 10.0 is diverged; a dip back below resets the streak
    assert _run(guard, [1.0, 12.0, 0.9, 15.0, 20.0]) == [True, False, True, False, False]
    with pytest.raises(TrainingDiverged) as error:
        guard.check(3e7, 60, "ckpt-30")
    message = str(error.value)
    assert "loss 3e+07 at step 60 stayed above 10 x the reference 1 for 3 loops" in message
    assert "The last good checkpoint (ckpt-30) is kept" in message and "\n" not in message


def test_a_run_diverged_within_its_first_loop_is_judged_against_chance_loss():
    # no warmup and a huge learning rate: the first loop's loss is already 149
    guard = DivergenceGuard(10.0, 3, math.log(10))
    assert _run(guard, [149.0, 350.0]) == [False, False]
    with pytest.raises(TrainingDiverged, match=r"stayed above 10 x the reference 2.303"):
        guard.check(559.0, 30, None)


def test_nan_stops_at_once_and_a_diverging_end_is_refused():
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 10: training stopped"):
        DivergenceGuard(10.0, 3).check(float("nan"), 10, None)
    guard = DivergenceGuard(10.0, 3)
    assert _run(guard, [1.0, 50.0]) == [True, False]
    with pytest.raises(TrainingDiverged, match=r"ended with 1 loop\(s\) above 10 x .*\(ckpt-10\)"):
        guard.finish("ckpt-10")


def test_factor_zero_turns_the_guard_off_but_not_the_nan_check():
    guard = DivergenceGuard(0.0, 3, math.log(10))
    assert _run(guard, [2.0, 1e9, 1e12, 1e15]) == [True] * 4
    with pytest.raises(TrainingDiverged):
        guard.check(float("inf"), 50, None)
