"""The console, traced from inside (issue 24): what runs on its loop between a key and the frame.

Runs the console as ``python -m kassa24_console`` does, with three records written to
``K24_TRACE`` (one line each, milliseconds since start):

Each record also carries the loop thread's CPU time, so key → frame can be read as CPU spent
(what the console itself does) as well as wall time (that, plus waiting for a busy machine).

- ``key``: a key event the app handles (its name);
- ``switch``: the pane shown (``action_show_tab`` returned);
- ``frame``: each write of the screen to the terminal (its size in bytes);
- ``gc``: each full collection (generation 2) and its time;
- ``slow``: every callback on the loop that ran longer than 5 ms, with what it was (asyncio's
  own ``slow_callback_duration`` report, without the rest of its debug mode's cost).

``summarize`` reads such a file: per pane switch, key → switch → first frame, and the slow
callbacks in between. Usage (``console_load.py --trace FILE`` runs the console so)::

    K24_TRACE=/tmp/t.log .venv/bin/python -m benchmarks.console_trace [console arguments]
    .venv/bin/python -m benchmarks.console_trace --summarize /tmp/t.log
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from asyncio import base_events, events
from typing import Any

SLOW = 0.005
T0 = time.perf_counter()


def _ms() -> float:
    return (time.perf_counter() - T0) * 1000


def install(path: str) -> None:
    """Patch the loop, the app and the driver to write the trace to ``path``."""
    out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the process's life

    profile = _Profile(os.environ.get("K24_PROFILE", ""))

    def note(kind: str, text: str) -> None:
        """A record with the wall time and, for the loop's own thread, its CPU time (load-proof)."""
        cpu = time.thread_time() * 1000 if kind != "slow" else 0.0
        out.write(f"{_ms():.1f}\t{kind}\t{text}\t{cpu:.1f}\n")
        profile.saw(kind, text)

    run = events.Handle._run

    def timed(handle: events.Handle) -> None:
        start = time.perf_counter()
        run(handle)
        took = time.perf_counter() - start
        if took > SLOW:
            note("slow", f"{took * 1000:.1f}\t{base_events._format_handle(handle)[:300]}")  # type: ignore[attr-defined]

    events.Handle._run = timed  # type: ignore[method-assign]

    import gc

    collecting: dict[str, float] = {}

    def collections(phase: str, info: dict[str, Any]) -> None:  # each full pass, and its time
        if phase == "start":
            collecting["at"] = time.perf_counter()
        elif info.get("generation") == 2 and "at" in collecting:
            note("gc", f"{(time.perf_counter() - collecting['at']) * 1000:.1f}")

    gc.callbacks.append(collections)

    from textual import events as tevents
    from textual.app import App

    on_event = App.on_event

    async def on_key(self: App[Any], event: Any) -> None:
        if isinstance(event, tevents.Key):
            note("key", event.key)
        await on_event(self, event)

    App.on_event = on_key  # type: ignore[method-assign]

    from kassa24_console.console.navigation import Navigation

    show = Navigation.action_show_tab

    def shown(self: Any, tab: str) -> None:
        show(self, tab)
        note("switch", tab)

    Navigation.action_show_tab = shown  # type: ignore[method-assign]

    from textual.drivers.linux_driver import LinuxDriver

    write = LinuxDriver.write

    def written(self: Any, data: str) -> None:
        write(self, data)
        if len(data) > 64:  # a frame, not a cursor or mode escape
            note("frame", str(len(data)))

    LinuxDriver.write = written  # type: ignore[method-assign]


class _Profile:
    """``K24_PROFILE=FILE``: cProfile of the loop from each ``c``/``t`` key to the first frame
    after its switch, summed over the run and written to FILE (pstats) at exit."""

    def __init__(self, path: str) -> None:
        self.path, self.on, self.switched = path, False, False
        if path:
            import atexit
            import cProfile

            self.profiler = cProfile.Profile()
            atexit.register(lambda: self.profiler.dump_stats(path))

    def saw(self, kind: str, text: str) -> None:
        if not self.path:
            return
        if kind == "key" and text in ("c", "t") and not self.on:
            self.on, self.switched = True, False
            self.profiler.enable()
        elif kind == "switch":
            self.switched = True
        elif kind == "frame" and self.on and self.switched:
            self.profiler.disable()
            self.on = False


def summarize(path: str) -> str:
    """Per switch: key → switch → first frame (ms), and the slow callbacks between key and frame."""
    with open(path, encoding="utf-8") as file:
        lines = [line.rstrip("\n").split("\t") for line in file]
    switches: list[tuple[float, float, float]] = []
    cpus: list[float] = []
    key_cpu = 0.0
    report: list[str] = []
    key_at: float | None = None
    switch_at: float | None = None
    slow: list[str] = []
    for fields in lines:
        at, kind = float(fields[0]), fields[1]
        if kind == "key" and fields[2] in ("c", "t") and key_at is None:
            key_at, switch_at, slow, key_cpu = at, None, [], float(fields[3])
        elif kind == "switch" and key_at is not None:
            switch_at = at
        elif kind == "slow" and key_at is not None:
            slow.append(f"    {fields[2]} ms ending at +{at - key_at:.0f}: {fields[3]}")
        elif kind == "gc" and key_at is not None:
            slow.append(f"    a full collection, {fields[2]} ms, ending at +{at - key_at:.0f}")
        elif kind == "frame" and key_at is not None and switch_at is not None:
            switches.append((switch_at - key_at, at - key_at, at - switch_at))
            cpus.append(float(fields[3]) - key_cpu)
            report.append(f"key +{switch_at - key_at:.1f} switch +{at - key_at:.1f} frame (CPU {cpus[-1]:.1f})")
            report.extend(slow)
            key_at = switch_at = None
    frames = [frame for _switch, frame, _after in switches]
    if frames:
        report.append(
            f"{len(frames)} switches: key → frame p50 {statistics.median(frames):.1f} ms, "
            f"worst {max(frames):.1f} ms; key → switch p50 {statistics.median(s for s, _f, _a in switches):.1f} ms; "
            f"loop CPU key → frame p50 {statistics.median(cpus):.1f} ms, worst {max(cpus):.1f} ms"
        )
    full = [float(f[2]) for f in lines if f[1] == "gc"]
    if full:
        report.append(f"full collections: {len(full)}, p50 {statistics.median(full):.1f} ms, worst {max(full):.1f} ms")
    slow_all = [float(f[2]) for f in lines if f[1] == "slow"]
    if slow_all:
        report.append(f"slow callbacks (> 5 ms) in the whole run: {len(slow_all)}, {sum(slow_all):.0f} ms in all")
    return "\n".join(report)


def main() -> None:
    if sys.argv[1:2] == ["--summarize"]:
        print(summarize(sys.argv[2]))
        return
    install(os.environ["K24_TRACE"])
    from kassa24_console.commands import main as cli

    sys.argv = ["kassa24-console", *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
