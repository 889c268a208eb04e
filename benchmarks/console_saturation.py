"""The listener at saturation with the console open against headless ``serve``, in turns.

``run.py`` measures the console-open rows last, on a database the headless rows before them
have already grown by tens of thousands of payments, so its "console open / headless" ratio
carries the order as well as the console. Here the two take turns on one database (headless,
console, headless, console, …), each a ``wrk`` run of full cycles (or ``--kind``), and the
ratio is given per turn. Each turn measures what ``run.py`` does (verify, check_deposit, then
cycles) and reports ``--kind``. Needs ``wrk`` and ``tmux``. Usage::

    .venv/bin/python benchmarks/console_saturation.py [--turns 3] [--duration 10] [--kind cycle]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from harness import free_port, seed_sqlite, serve_env, write_cycle_file
from run import _console, _serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--kind", choices=("verify", "check_deposit", "cycle"), default="cycle")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="k24-saturation-"))
    seed_sqlite(tmp / "bench.db", args.rows)
    cycle = tmp / "cycle.txt"
    write_cycle_file(cycle, args.rows)
    env = serve_env(f"sqlite:///{tmp / 'bench.db'}", free_port(), tmp / "serve.log")
    ratios = []
    print(f"| turn | headless {args.kind} req/s | console open req/s | console / headless |")
    print("|---:|---:|---:|---:|")
    for turn in range(1, args.turns + 1):
        headless = _serve(args, env, cycle, workers=1, name="")[args.kind]["rps"]
        opened = _console(args, env, cycle)[f"{args.kind}, console open"]["rps"]
        ratios.append(opened / headless)
        print(f"| {turn} | {headless:.0f} | {opened:.0f} | {ratios[-1]:.2f} |", flush=True)
    print(f"\nmedian console / headless: {statistics.median(ratios):.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
