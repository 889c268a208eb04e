"""The ``serve`` process: first start, restarts, several processes on one database, shutdown."""

from __future__ import annotations

import concurrent.futures
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.bodies import deposit_body, verify_body
from tests.support.common import free_port
from tests.support.seeding import new_customer
from tests.support.serve import Server, serve_env, start_serve


def test_demo_data_on_first_start_with_the_demo_key(tmp_path: Path) -> None:
    server = start_serve(tmp_path, KASSA24_SECRET_KEY="k24-demo-secret-key")
    try:
        assert server.rows("SELECT count(*) AS n FROM contracts")[0]["n"] == 10
        assert "demo secret key" in (tmp_path / "serve.stderr").read_text()
    finally:
        server.stop()


def test_no_demo_data_with_a_real_key(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    try:
        assert server.rows("SELECT count(*) AS n FROM contracts")[0]["n"] == 0
        assert server.post(verify_body("7012345678")).json()["code"] == 404
    finally:
        server.stop()


def _issue(server: Server, customer: str, contract: str, n: int) -> list[str]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: server.post(deposit_body(customer, contract)).json(), range(n)))
    assert all(a["code"] == 0 for a in answers), answers
    return [a["payment_id"] for a in answers]


def test_payment_ids_unique_across_restarts_and_processes(tmp_path: Path) -> None:
    first = start_serve(tmp_path)
    customer, (contract,) = new_customer(first, {})
    before = _issue(first, customer, contract, 20)
    first.stop()

    # Two processes on the same database file, issuing concurrently.
    one = start_serve(tmp_path)
    port = free_port()
    other_env = {**one.env, "KASSA24_PORT": str(port)}
    other_proc = subprocess.Popen(
        [sys.executable, "-m", "kassa24_console", "serve"],
        env=other_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    other = Server(f"http://127.0.0.1:{port}", one.db_path, 2, other_env, proc=other_proc)
    try:
        from tests.support.serve import wait_healthy

        wait_healthy(other.url, other_proc)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a, b = pool.map(lambda s: _issue(s, customer, contract, 40), [one, other])
    finally:
        one.stop()
        other.stop()
    issued = before + a + b
    assert len(set(issued)) == len(issued) == 100
    stored = {r["payment_id"] for r in one.rows("SELECT payment_id FROM deposits WHERE customer_id = ?", customer)}
    assert stored == set(issued)


def test_sigterm_stops_cleanly_and_frees_the_port(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    port = int(server.url.rsplit(":", 1)[1])
    server.proc.terminate()
    assert server.proc.wait(15) == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would raise if the port were still held
    assert "stopped" in (tmp_path / "serve.stderr").read_text()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "kassa24_console", "serve"],
            env=serve_env(tmp_path / "k24.db", port),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in result.stderr
    assert "Traceback" not in result.stderr
