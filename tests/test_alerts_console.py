"""Alerts in the console: the header's count, the Alerts pane, acknowledging with a note
(no repeats until it resolves), the bell, and no URL secret on screen. Real requests reach
the console's own listener; a real HTTP receiver takes the alerts."""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path

import pytest

from kassa24_console.console.alerts import AlertsPane
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.screens import ResolveForm
from tests.support.bodies import verify_body
from tests.support.console import make_settings, post, until
from tests.support.receivers import HttpReceiver

SIG = "kassa24: Requests fail the signature"


def screen_text(app: Kassa24App) -> str:
    """What the screen shows, as text (the screenshot's SVG, unescaped)."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


async def test_alert_shown_counted_rung_acknowledged_and_then_silent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = HttpReceiver()
    settings = make_settings(
        tmp_path,
        alert_urls=[hook.url],
        alert_interval_seconds=0.2,
        alert_signature_failures=3,
        alert_repeat_seconds=1.5,
        alert_error_share=0.5,
    )
    app = Kassa24App(settings)
    rings: list[float] = []
    ring = app.bell

    def bell() -> None:  # the real bell, counted
        rings.append(time.monotonic())
        ring()

    app.bell = bell  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.listener_state == "listening")
            assert app.runtime is not None
            url = f"http://127.0.0.1:{app.runtime.listener.port}"
            for _ in range(3):
                body = verify_body("7000000001", signature="d3Jvbmc=")
                assert (await post(url, body, sign=False)).json()["code"] == 400
            await until(pilot, lambda: any(r.title == SIG for r in hook.got), timeout=30)
            counters = app.query_one("#status-counters")
            await until(pilot, lambda: "alerts 1" in str(counters.render()), timeout=10)
            assert rings  # the bell rang when the alert appeared

            await pilot.press("exclamation_mark")
            pane = app.query_one(AlertsPane)
            await until(pilot, lambda: pane.table.row_count == 1, timeout=10)
            shown = ("ACTIVE", "signature_failures", " ok ", f"json://127.0.0.1:{hook.port}")
            await until(pilot, lambda: all(word in screen_text(app) for word in shown), timeout=10)
            assert hook.token not in screen_text(app)

            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ResolveForm))
            app.screen.query_one("#note").value = "Aigerim is calling the platform"  # type: ignore[attr-defined]
            app.clear_notifications()
            await until(pilot, lambda: not app.screen.query("Toast"))  # none sits over the button
            await pilot.click("#save")
            acked_at = time.monotonic()
            await until(pilot, lambda: not isinstance(app.screen, ResolveForm))
            assert app.store is not None
            audit = await app.store.scan(
                lambda c: c.exec_driver_sql("SELECT actor, note FROM audit WHERE kind = 'acknowledge'").all()
            )
            assert [row[1] for row in audit] == ["Aigerim is calling the platform"]
            await until(pilot, lambda: "acked" in screen_text(app), timeout=10)

            # Another alert fires and repeats: its repeat proves the period passed while
            # the acknowledged one held too, and that one said nothing more.
            for _ in range(20):
                await post(url, {"type": "refund", "project_id": 1234})
            await until(pilot, lambda: any(r.title == "kassa24: Still: Requests are failing" for r in hook.got), 30)
            after = [r.title for r in hook.got if r.at > acked_at]
            assert f"kassa24: Still: {SIG[9:]}" not in after
            await until(pilot, lambda: "alerts 2" in str(counters.render()), timeout=10)
            assert hook.token not in screen_text(app)
            await pilot.press("q")
    finally:
        hook.close()
    # The listener's process sends the alerts and writes their log lines to the log file.
    logged = settings.log_file.read_text()
    assert "alert signature_failures started" in logged and hook.token not in logged
    assert hook.token not in caplog.text
