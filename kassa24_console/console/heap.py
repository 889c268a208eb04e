"""The console's garbage collection, kept away from keys (issue 24).

What start-up built lives as long as the console (modules, widgets, styles, about 250 000
objects): frozen after the first frame, so full passes no longer walk it (they did, every few
seconds, 100–185 ms on the loop). Full passes over what is made later still cost 40–330 ms
under payments, about one every two seconds, and Python starts them in the middle of an
allocation — most often in a pane switch, the busiest allocator, so they were the slowest
switches (traced: each of the worst, 128–160 ms, held a full pass of 90–120 ms). So the
collector does only its cheap young passes by itself, and the console runs the full pass on
a timer when no key came lately: the same work, never between a key and its frame unless
a key lands inside that pass.
"""

from __future__ import annotations

import gc
import time

NEVER = 2**31 - 1  # a full pass by the collector's own count: never
EVERY = 3.0  # seconds between looks for a quiet moment
QUIET = 1.0  # no key for this long: a full pass now waits for nobody
LONGEST = 60.0  # seconds without a full pass, keys or not: one runs (memory stays bounded)


class Heap:
    """Freezes start-up, then runs the full passes itself (:meth:`collect_when_quiet`)."""

    # The full pass before freezing: a console process pays it once (~0.1 s). A test process
    # starts hundreds of consoles over a heap several times a console's (pytest, the tests'
    # leftovers): the test suite turns it off (tests/conftest.py) except where it is tested.
    collect_at_settle = True

    def __init__(self) -> None:
        self.last_key = 0.0
        self.full_passes = 0  # run here (tests)
        self.last_full = time.monotonic()
        self._thresholds: tuple[int, int, int] | None = None

    def settle(self) -> None:
        """After the first frame: start-up's garbage collected, the rest frozen, full passes ours."""
        if self.collect_at_settle:
            gc.collect()
        gc.freeze()
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            young, middle, _full = self._thresholds
            gc.set_threshold(young, middle, NEVER)

    def key(self) -> None:
        self.last_key = time.monotonic()

    def collect_when_quiet(self) -> None:
        """A full pass when no key came for :data:`QUIET` seconds, or when none ran for
        :data:`LONGEST`: an operator who never pauses still gets one a minute."""
        if self._thresholds is None:
            return
        now = time.monotonic()
        if now - self.last_key >= QUIET or now - self.last_full >= LONGEST:
            gc.collect(2)
            self.full_passes += 1
            self.last_full = time.monotonic()

    def release(self) -> None:
        """The console closes (in a longer process, tests): the collector as it was."""
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        gc.unfreeze()
