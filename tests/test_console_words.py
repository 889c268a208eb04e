"""No English word is left for a Russian operator: the console is driven as one would use it
(real requests to its listener, every pane, each form, the help, a story, a history, the
details) and every word on the screen is read back. A word of Latin letters is allowed only
when it stays English by design: codes and names of the protocol, keys of the keyboard, units,
the product and the platform."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from kassa24_console import i18n, importer
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.language import switch
from kassa24_console.console.mismatches import MismatchesPane
from kassa24_console.console.panes import CallbacksPane, ContractsPane
from kassa24_console.console.traffic import TrafficPane
from kassa24_console.i18n import _
from kassa24_console.store import Store
from kassa24_console.store import alerts as store_alerts
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.console import make_settings, post, screen_text, steady_screen, until
from tests.support.receivers import HttpReceiver

# What stays English by design: the protocol's request names and filter keys, keyboard keys,
# units and formats, the product, the platform and its API.
ALLOWED = {
    "verify",  # the protocol's requests, named as the platform's documentation names them
    "check_deposit",
    "kind",  # the filter's keys (kind:verify, code:500, …) are typed as they are
    "code",
    "customer",
    "contract",
    "sig",
    "bad",
    "natural",  # the canonical forms a signature was tried in (the diagnosis names them)
    "aigerim",  # an operator's login
    "KZT",  # units, formats, standards
    "HTTP",
    "JSON",
    "UTF",
    "SHA",
    "HMAC",
    "Base",
    "SVG",
    "TLS",
    "Data",  # the platform's Data API
    "API",
    "JetPay",
    "Kassa",
    "alert_urls",  # a setting's own name
    "keymap",
}
KEYS = {"ctrl", "esc", "escape", "enter", "home", "end", "pgup", "pgdn", "tab"}  # keyboard keys, any case
LATIN = re.compile(r"[A-Za-z][A-Za-z_]{2,}")


def english_words(text: str) -> set[str]:
    """Latin words of three letters or more that are not allowed to stay English. Ids
    (anything with a digit), paths and URLs, quoted JSON and the product's name are not words."""
    text = text.replace("kassa24-console", " ").replace("check_deposit", " ")
    text = re.sub(r'"[^"\n]*"', " ", text)  # a raw JSON answer quoted in a story
    text = re.sub(r"«[^»\n]*(?:»|$)", " ", text, flags=re.M)  # a field's name, quoted (or cut): «customer_id»
    found = set()
    for token in re.split(r"[\s│·,;()\[\]{}<>=|`*]+", text):
        if not token or any(c.isdigit() for c in token) or "/" in token or "@" in token:
            continue
        if re.fullmatch(r"[a-z_]+:\S+", token) or re.fullmatch(r"\w+\.\w+", token):  # kind:verify, demo.json
            continue
        found |= {w for w in LATIN.findall(token) if w not in ALLOWED and w.lower() not in KEYS}
    return found


async def settle(pilot: Any) -> None:
    await steady_screen(pilot)


async def seed_alerts(settings: Any) -> None:
    """An active alert and a resolved, acknowledged one, as the alerter writes them: the title
    a stable English key, the body in the operator's language."""
    store = Store(settings.database_url)
    await store.open()
    body = _(
        "Deposits were issued but no callback at all arrived for {minutes}. "
        "Is the platform reaching our callback URL (firewall, proxy, TLS certificate, the URL the platform has)?"
    ).format(minutes=_("{n} min").format(n=60))
    rows = [
        {
            "key": "callbacks_silent",
            "rule": "callbacks_silent",
            "active_key": "callbacks_silent",
            "title": "No callbacks arrive",
            "text": body,
            "started_at": 1_795_680_000_000_000,
            "last_sent_at": 1_795_680_000_000_000,
            "sends": 2,
            "resolved_at": None,
            "acked_by": None,
            "acked_at": None,
            "ack_note": "",
        },
        {
            "key": "errors",
            "rule": "errors",
            "active_key": None,
            "title": "Requests are failing",
            "text": body,
            "started_at": 1_795_670_000_000_000,
            "last_sent_at": 1_795_670_000_000_000,
            "sends": 1,
            "resolved_at": 1_795_675_000_000_000,
            "acked_by": "aigerim",
            "acked_at": 1_795_672_000_000_000,
            "ack_note": "звоню в платформу",
        },
    ]
    deliveries = [
        {"alert_id": 1, "event": "fired", "channel": "mailto://smtp.example.kz", "ok": False, "attempts": 4,
         "error": "…", "at": 1_795_680_001_000_000},
        {"alert_id": 1, "event": "repeat", "channel": "json://127.0.0.1:8025", "ok": True, "attempts": 1,
         "error": None, "at": 1_795_680_002_000_000},
    ]  # fmt: skip

    def write(connection: Any) -> None:
        connection.execute(store_alerts.alerts.insert(), rows)
        connection.execute(store_alerts.deliveries.insert(), deliveries)

    await store.write(write)
    await store.close()


async def tour(app: Kassa24App, pilot: Any, payment_id: str) -> dict[str, str]:
    """Every place an operator reads, with what it showed."""
    seen: dict[str, str] = {}

    async def look(name: str) -> None:
        await settle(pilot)
        seen[name] = screen_text(app)

    async def back() -> None:
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)

    # Traffic: each row's reason under the list, a request's detail (its "why")
    traffic = app.query_one(TrafficPane).table
    await until(pilot, lambda: traffic.row_count >= 7)
    await look("traffic")
    for _row in range(traffic.row_count):
        await pilot.press("up")
        seen[f"traffic row {traffic.cursor}"] = str(app.query_one("#traffic-reason").render())
    await pilot.press("end")
    await look("traffic following")
    await pilot.press("up")
    await look("traffic paused")
    await pilot.press("slash", *"kind:nothing:x")
    await look("traffic filter problem")
    for _char in "kind:nothing:x":
        await pilot.press("backspace")
    await pilot.press("enter")

    # Contracts: the list, the edit form (refused values), the history, a new account and contract
    await pilot.press("c")
    contracts = app.query_one(ContractsPane)
    await until(pilot, lambda: contracts.table.row_count == 10)
    await look("contracts")
    contracts.table.move_cursor(row=0)
    await pilot.press("e")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("edit form")
    app.screen.query_one("#payment", Input).value = "много"
    app.screen.query_one("#min_payment", Input).value = "-5"
    await pilot.press("enter")
    await until(pilot, lambda: "✗" in screen_text(app))
    await look("edit form refused")
    await back()
    await pilot.press("h")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("history")
    await back()
    await pilot.press("a")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await pilot.press("enter")
    await until(pilot, lambda: "✗" in screen_text(app))
    await look("account form refused")
    await back()
    await pilot.press("n")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("new contract form")
    await back()

    # Callbacks: the list and a payment's story from it
    await pilot.press("b")
    callbacks = app.query_one(CallbacksPane)
    await until(pilot, lambda: callbacks.table.row_count >= 3)
    await look("callbacks")
    paid = next(i for i, row in enumerate(callbacks.rows.values()) if row.payment_id == payment_id)
    callbacks.table.move_cursor(row=paid)
    await pilot.press("s")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("story")
    await back()

    # Mismatches: the list, a finding's evidence and what to do, the forms of its actions
    await pilot.press("m")
    mismatches = app.query_one(MismatchesPane)
    await until(pilot, lambda: mismatches.table.row_count >= 1)
    await look("mismatches")
    await pilot.press("enter")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("mismatch detail")
    await back()
    await pilot.press("x")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await pilot.press("enter")  # no note: refused, and it says why
    await until(pilot, lambda: "✗" in screen_text(app))
    await look("resolve form refused")
    await back()
    for key in ("k", "p"):
        await pilot.press(key)
        await until(pilot, lambda: len(app.screen_stack) == 2)
        await look(f"correction form {key}")
        await back()

    # Alerts: the list, an alert's message and deliveries, acknowledging one
    await pilot.press("exclamation_mark")
    await settle(pilot)
    await look("alerts")
    await pilot.press("home", "enter")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("alert detail")
    await back()
    await pilot.press("x")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await look("acknowledge form")
    await back()

    # The help, scrolled through to its end
    await pilot.press("f1")
    await until(pilot, lambda: len(app.screen_stack) == 2)
    await until(pilot, lambda: "kassa24-console" in screen_text(app))  # the help drawn
    await look("help")
    seen["help, all of it"] = app.screen._text  # the lines below the fold too
    for page in range(6):
        await pilot.press("pagedown")
        await look(f"help page {page + 2}")
    await back()
    return seen


async def drive(app: Kassa24App, pilot: Any) -> dict[str, str]:
    await until(pilot, lambda: app.listener_state == "listening")
    assert app.runtime is not None
    url = f"http://127.0.0.1:{app.runtime.listener.port}"
    await post(url, verify_body("7012345678"))
    await post(url, verify_body("7099999999"))  # no such account
    await post(url, verify_body("7012345678"), sign=False)  # refused: no signature
    await post(url, {**verify_body("7012345678"), "signature": "bm90IGEgc2lnbmF0dXJl"}, sign=False)
    await post(url, b'{"type": "verify", "project_id": 1234')  # not JSON
    await post(url, verify_body(""))  # an empty customer
    answer = (await post(url, deposit_body("7012345678", "C-10001", amount=1_500_000))).json()
    await post(url, callback_body(answer["payment_id"], amount=1_500_000), path="/kassa24/callback")
    await post(url, callback_body("k24_nobody", amount=10_000, operation_id=7), path="/kassa24/callback")
    await post(url, callback_body("k24_forged", amount=10_000), path="/kassa24/callback", sign=False)
    return await tour(app, pilot, answer["payment_id"])


# A few words each language must show where they belong (the tour really went there).
EXPECTED = {
    "ru": {
        "traffic": ("Трафик", "Справка"),
        "story": ("История платежа", "уведомление"),
        "edit form refused": ("✗", "к оплате"),
        "help, all of it": ("## Оповещения", "| оповещения |"),
    },
    "kk": {
        "traffic": ("Трафик", "Анықтама"),
        "story": ("Төлем тарихы", "хабарлама"),
        "edit form refused": ("✗", "төленуге тиіс"),
        "help, all of it": ("## Ескертулер", "| ескертулер |"),
    },
}


@pytest.mark.parametrize("language", ["ru", "kk"])
async def test_an_operator_reads_no_english_word(tmp_path: Path, language: str) -> None:
    settings = make_settings(tmp_path, language=language)
    store = Store(settings.database_url)
    await store.open()
    await importer.apply(store, importer.read_file(importer.demo_file()), actor="aigerim")
    await store.close()
    i18n.set_language(language)
    await seed_alerts(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        seen = await drive(app, pilot)
    (tmp_path / "seen.json").write_text(json.dumps(seen, ensure_ascii=False, indent=1))  # to look at after a failure
    leftovers = {name: sorted(english_words(text)) for name, text in seen.items()}
    leftovers = {name: words for name, words in leftovers.items() if words}
    assert not leftovers, leftovers
    for place, words in EXPECTED[language].items():
        assert all(word in seen[place] for word in words), (place, words)


def test_the_detector_finds_english_and_passes_what_stays() -> None:
    assert english_words("Quit ^q Help F1 │ Трафик") == {"Quit", "Help"}
    assert english_words("`Home` `End` esc ^p команды «customer_id» файл demo.json платёж platform") == {"platform"}
    assert not english_words("k24_01JB7Q 7012345678 C-10001 sqlite:///tmp/k24.db kind:verify `ctrl+r` 1 500,00 KZT")
    assert not english_words('check_deposit → {"code": 0, "payment_id": "k24_x"}; kassa24-console')


async def test_a_live_switch_describes_every_key_and_hint_again(tmp_path: Path) -> None:
    """The palette's switch: the footer's keys, the panes' hints, placeholders and counts are
    said again in the new language at once, without a restart."""
    settings = make_settings(tmp_path, language="ru")
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        await pilot.press("m")
        await until(pilot, lambda: "Справка" in screen_text(app) and "расхождения 0–0 из 0" in screen_text(app))
        assert "Урегулировать" in screen_text(app) and "фильтр: номер платежа или вид" in screen_text(app)
        switch(app, "kk")
        await until(pilot, lambda: "Анықтама" in screen_text(app) and "0–0, барлығы 0" in screen_text(app))
        text = screen_text(app)
        assert "Реттеу" in text and "Шығу" in text and "Справка" not in text  # the footer, described again
        assert "Реттелмеген сәйкессіздіктер" in text and "сүзгі: төлем нөмірі немесе түрі" in text
        switch(app, "en")
        await until(pilot, lambda: "Help" in screen_text(app) and "mismatches 0–0 of 0" in screen_text(app))
        assert "Resolve" in screen_text(app) and "Open mismatches." in screen_text(app)


async def test_after_a_live_switch_the_listeners_alerts_speak_the_new_language(tmp_path: Path) -> None:
    """The alerts are sent by the listener's process: the palette's switch reaches it too."""
    hook = HttpReceiver()
    try:
        settings = make_settings(
            tmp_path,
            language="ru",
            alert_urls=[hook.url],
            alert_signature_failures=3,
            alert_window_seconds=3,
            alert_interval_seconds=0.2,
            alert_retry_seconds=0.2,
        )
        app = Kassa24App(settings)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.listener_state == "listening")
            switch(app, "kk")
            # the worker tells the listener's process
            await until(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "language"))
            url = f"http://127.0.0.1:{app.runtime.listener.port}"
            for _attempt in range(3):
                body = verify_body("7000000001", signature="d3Jvbmcgc2lnbmF0dXJl")
                assert (await post(url, body, sign=False)).json()["code"] == 400
            title = "kassa24: Сұраулар қолтаңба тексеруінен өтпейді"
            await until(pilot, lambda: any(r.title == title for r in hook.got), timeout=15)
            body = next(r.body for r in hook.got if r.title == title)
            assert "Соңғы 3 с ішінде 3 сұрау қолтаңба тексеруінен өтпеді." in body
    finally:
        hook.close()
