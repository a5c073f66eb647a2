"""Preemption: SIGTERM becomes a request to save a checkpoint and stop."""

from __future__ import annotations

import signal


class PreemptionWatcher:
    """Turns SIGTERM into a flag the loop checks between loops (then it saves and stops)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: no handler, no preemption saving
            self._previous = None
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
