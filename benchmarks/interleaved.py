"""PostgreSQL against SQLite (and two PostgreSQL listeners against one) measured in turns:
on a shared machine whose load changes within minutes, a ratio of two rates measured one
after the other, repeated, says more than one long run of each. Prints the median ratio.

Usage: ``.venv/bin/python benchmarks/interleaved.py POSTGRES_URL`` (a database seeded like
``postgres.py`` does; the SQLite file is made here). Needs ``wrk``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from harness import free_port, seed_sqlite, serve_env, start, stop, verify_body, wait_up, write_cycle_file, wrk

SERVE = [sys.executable, "-m", "kassa24_console", "serve"]
ROWS, SECONDS, ROUNDS = 1000, 5, 3


def main() -> None:
    pg_url = sys.argv[1]
    tmp = Path(tempfile.mkdtemp(prefix="k24-interleaved-"))
    seed_sqlite(tmp / "bench.db", ROWS)
    cycle = tmp / "cycle.txt"
    write_cycle_file(cycle, ROWS)
    servers, ports = {}, {}
    for name, url, workers in (("sqlite", f"sqlite:///{tmp / 'bench.db'}", 1), ("pg1", pg_url, 1), ("pg2", pg_url, 2)):
        ports[name] = free_port()
        env = {**serve_env(url, ports[name], tmp / f"{name}.log"), "KASSA24_WORKERS": str(workers)}
        servers[name] = start(SERVE, env)
    try:
        for port in ports.values():
            wait_up(f"http://127.0.0.1:{port}/healthz")
        rates: dict[tuple[str, str], list[float]] = {}
        for _ in range(ROUNDS):
            for kind in ("verify", "cycle"):
                for name, port in ports.items():
                    base = f"http://127.0.0.1:{port}"
                    if kind == "verify":
                        result = wrk(f"{base}/kassa24", SECONDS, 32, body=verify_body(ROWS // 2))
                    else:
                        result = wrk(base, SECONDS, 32, cycle=cycle)
                    rates.setdefault((kind, name), []).append(result["rps"])
    finally:
        stop(*servers.values())
    for kind in ("verify", "cycle"):
        sqlite, one, two = (rates[(kind, n)] for n in ("sqlite", "pg1", "pg2"))
        versus = statistics.median(p / s for p, s in zip(one, sqlite, strict=True))
        scale = statistics.median(b / a for a, b in zip(one, two, strict=True))
        print(
            f"{kind}: SQLite {[round(r) for r in sqlite]}, PostgreSQL 1 listener {[round(r) for r in one]},"
            f" 2 listeners {[round(r) for r in two]} req/s"
        )
        print(f"{kind}: PostgreSQL {versus:.2f} of SQLite (median of {ROUNDS} turns); two listeners {scale:.2f}× one")


if __name__ == "__main__":
    main()
