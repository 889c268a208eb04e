"""A real month as a finance desk reconciles it: operation types in the desk's words, days
that meet at midnight, a stale clock database, arguments that cannot read as all clear."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from conftest import Server, start_serve


@pytest.fixture
def merchant(tmp_path: Path):
    server = start_serve(tmp_path)
    yield server
    server.stop()


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa24_console.cli", "reconcile", *args],
        env={**server.env, "KASSA24_LOG_FILE": "/dev/null", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def stale_zone_database(tmp_path: Path) -> Path:
    """A system zone database from before 2024: Asia/Almaty fixed at +06."""
    root = tmp_path / "zoneinfo"
    (root / "Asia").mkdir(parents=True)
    with resources.files("tzdata").joinpath("zoneinfo", "Etc", "GMT-6").open("rb") as source:
        (root / "Asia" / "Almaty").write_bytes(source.read())
    return root


def test_zones_come_from_tzdata_even_when_the_system_database_is_stale(tmp_path: Path) -> None:
    script = (
        "from datetime import date, datetime\n"
        "from zoneinfo import ZoneInfo\n"
        "from kassa24_console.zones import zone\n"
        "from kassa24_console.reconcile.engine import Period\n"
        "moment = datetime(2026, 11, 27, 23, 30)\n"
        "print(ZoneInfo('Asia/Almaty').utcoffset(moment))\n"  # what the stale database says
        "print(zone('Asia/Almaty').utcoffset(moment))\n"
        "p = Period.of_days(date(2026, 11, 27), date(2026, 11, 27), zone('Asia/Almaty'))\n"
        "print(datetime.utcfromtimestamp(p.start / 1e6).isoformat())\n"
    )
    env = {"PYTHONTZPATH": str(stale_zone_database(tmp_path)), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    stale, ours, start = result.stdout.split()
    assert stale == "6:00:00"  # the fixture really is stale: plain zoneinfo would have used it
    assert ours == "5:00:00"
    assert start == "2026-11-26T19:00:00"  # midnight in Almaty at +05


@pytest.mark.parametrize("command", ["reconcile", "serve"])
def test_a_misspelled_zone_is_one_line(tmp_path: Path, command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kassa24_console.cli", command],
        env={
            "PATH": "/usr/bin:/bin",
            "KASSA24_TIMEZONE": "Asia/Almati",
            "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KASSA24_LOG_FILE": "/dev/null",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kassa24-console: invalid configuration: timezone: unknown time zone 'Asia/Almati': "
        "use an IANA name such as Asia/Almaty"
    ]
    assert not (tmp_path / "k.db").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-11-27", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-27"),
        (["--from", "2026-11-27", "--export", "out.pdf"], "unknown format '.pdf': name a .xlsx or .csv file"),
        (["--from", "2026-11-27", "--act", "act.pdf"], "the act is written as XLSX"),
    ],
)
def test_arguments_that_would_read_as_all_clear_are_refused(tmp_path: Path, args: list[str], says: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "kassa24_console.cli", "reconcile", *args],
        env={**env, "KASSA24_LOG_FILE": "/dev/null"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert result.stdout == "" and not (tmp_path / "out.pdf").exists() and not (tmp_path / "k.db").exists()
