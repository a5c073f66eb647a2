"""The per-loop progress bar (official/training/progress.py)."""

import io
import re

import tensorflow as tf

from official.training import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_only_an_interactive_terminal_gets_a_bar(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    assert progress.interactive(Terminal())
    assert not progress.interactive(io.StringIO())  # a pipe or a log file: plain log lines
    monkeypatch.setenv("TERM", "dumb")
    assert not progress.interactive(Terminal())


def test_the_bar_moves_while_a_tf_function_loop_runs_and_ends_with_its_figures():
    step = tf.Variable(0, dtype=tf.int64)
    weights = tf.Variable(tf.random.normal([256, 256]))

    @tf.function
    def loop(n):  # like the training loop: many steps inside one call, a counter on the device
        for _ in tf.range(n):
            weights.assign(tf.tanh(weights @ weights))
            step.assign_add(1)

    loop(tf.constant(1))
    step.assign(0)
    out = Terminal()
    bar = progress.LoopBar(total_steps=3000, stream=out, interval=0.01)
    with bar.running(0, 3000, lambda: int(step.numpy())):
        loop(tf.constant(3000))
    bar.finish(3000, "loss 0.5000")
    frames = out.getvalue().split("\r")[1:]
    seen = [int(re.search(r"\] (\d+)/3000", f).group(1)) for f in frames]
    assert seen[0] == 0 and seen[-1] == 3000
    assert any(0 < s < 3000 for s in seen), seen  # drawn while the loop was still running
    assert seen == sorted(seen)
    assert frames[-1].rstrip().endswith("loss 0.5000") and out.getvalue().endswith("\n")
    assert "[" + "=" * progress.WIDTH + "]" in frames[-1]


def test_a_partial_loop_fills_its_share_of_the_bar():
    bar = progress.LoopBar(total_steps=100, stream=Terminal())
    bar._span = (50, 90)
    line = bar.line(70, "x")
    assert line.startswith("[" + "=" * (progress.WIDTH // 2) + ">")
    assert "70/100  steps 51-90  x" in line
