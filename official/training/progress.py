"""A progress bar for each training loop on an interactive terminal.

A loop (`train.steps_per_loop` steps) runs inside one tf.function, so the host hears of it only
when it ends; a thread reads the step counter (the optimizer's `iterations`, a variable the
loop increments on the device) a few times a second and moves the bar while the loop runs. When
the loop ends the bar is completed with its loss, top-1, learning rate and images/second, and
the next loop gets a new line. Elsewhere (a log file, a pipe, CI) the loop logs plain lines.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

WIDTH = 30


def interactive(stream=None) -> bool:
    """True on a terminal that can redraw a line (not a pipe, a file or TERM=dumb)."""
    stream = stream or sys.stdout
    return stream.isatty() and os.environ.get("TERM", "") != "dumb"


class LoopBar:
    """One line per training loop, redrawn in place while the loop runs."""

    def __init__(self, total_steps: int, stream=None, interval: float = 0.25):
        self.total_steps = total_steps
        self.stream = stream or sys.stdout
        self.interval = interval
        self._span = (0, 0)
        self._started = 0.0
        self._open = False  # a bar drawn and not yet ended with a newline

    def line(self, step: int, suffix: str = "") -> str:
        """`[=====>    ] 67/270  steps 45-90  12.3 steps/s`: the bar spans this loop's steps."""
        start, end = self._span
        done = min(max(step - start, 0), end - start)
        size = max(end - start, 1)
        filled = WIDTH * done // size
        arrow = ">" if 0 < done < size else ""
        bar = ("=" * filled + arrow).ljust(WIDTH)[:WIDTH]
        text = f"[{bar}] {start + done}/{self.total_steps}  steps {start + 1}-{end}"
        if not suffix and done:
            rate = done / max(time.perf_counter() - self._started, 1e-9)
            suffix = f"{rate:.1f} steps/s"
        return f"{text}  {suffix}" if suffix else text

    def _draw(self, text: str, end: str = "") -> None:
        self.stream.write("\r" + text.ljust(100) + end)
        self.stream.flush()
        self._open = not end

    @contextlib.contextmanager
    def running(self, start: int, end: int, current_step):
        """Draws the bar of steps start..end while the block runs, polling current_step()."""
        self._span, self._started = (start, end), time.perf_counter()
        stop = threading.Event()

        def poll():
            while not stop.wait(self.interval):
                try:
                    self._draw(self.line(int(current_step())))
                except Exception:  # a read racing the end of the loop: the next one redraws
                    pass

        self._draw(self.line(start))
        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        except BaseException:
            stop.set()
            thread.join()
            self.close()
            raise
        stop.set()
        thread.join()

    def finish(self, step: int, summary: str) -> None:
        """Completes the bar with the loop's figures and moves to the next line."""
        self._draw(self.line(step, summary), end="\n")

    def close(self) -> None:
        """Ends a bar left open (a loop stopped by SIGTERM), so that the next line starts clean."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
