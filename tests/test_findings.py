"""Findings at the bottom: the texts of their actions say the thresholds as configured (in
English as stored, in the operator's language on screens), read from the settings named once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from kassa24_console import i18n
from kassa24_console.config import RECONCILE_THRESHOLDS, Settings
from kassa24_console.console.reconciling import PASSED
from kassa24_console.findings import DAY_US, Thresholds
from kassa24_console.reconcile import rules
from kassa24_console.reconcile.engine import Period, reconcile
from kassa24_console.reconcile.words import action_text
from kassa24_console.store import Store, now_us

ZONE = ZoneInfo("Asia/Almaty")
NOW = 1_780_000_000_000_000
CHANGED = Thresholds(callback_warning_seconds=120, callback_expiry_days=10, retry_window_seconds=300)


def deposit(pid: str, age_seconds: float, state: str = "pending", customer: str = "7001", amount: int = 100_000):
    return SimpleNamespace(
        payment_id=pid,
        customer_id=customer,
        contract_id=f"C-{customer}",
        amount=amount,
        currency="KZT",
        state=state,
        paid_amount=amount if state == "paid" else None,
        created_at=NOW - int(age_seconds * 1_000_000),
    )


def found(limits: Thresholds) -> dict[str, rules.Finding]:
    deposits = [
        deposit("late", 150),  # past 2 minutes
        deposit("recent", 100, customer="7002"),  # past the default minute, not past 2 minutes
        deposit("old", 11 * 86_400, customer="7003"),  # past 10 days, not past the default 36
        deposit("paid", 400, state="paid", customer="7004"),
        deposit("retry", 200, customer="7004"),  # 200 s after the paid one: a retry within 5 minutes
    ]
    records = rules.Records(deposits, [], [], start=NOW - 40 * DAY_US, end=NOW + 1, now=NOW, limits=limits)
    return {f.payment_id or "": f for f in rules.find(records, ZONE)}


def test_the_rules_and_the_texts_follow_changed_thresholds() -> None:
    before = found(Thresholds.default())
    assert {pid: f.kind for pid, f in before.items()} == {
        "late": "callback_overdue",
        "recent": "callback_overdue",
        "old": "callback_overdue",
        "retry": "callback_overdue",
    }
    assert "basic time of 1 minute:" in before["late"].action
    after = found(CHANGED)
    assert {pid: f.kind for pid, f in after.items()} == {
        "late": "callback_overdue",
        "old": "deposit_expired",
        "retry": "likely_retry",
    }
    assert "basic time of 2 minutes:" in after["late"].action
    assert "within the threshold of 10 days:" in after["old"].action
    assert "amount within 5 minutes," in after["retry"].action
    for finding in after.values():
        assert "1 minute" not in finding.action and "36" not in finding.action


def test_on_screen_the_thresholds_are_said_in_the_operators_language() -> None:
    row = SimpleNamespace(kind="callback_overdue", payment_id="k24_x", evidence={}, action="stored")
    i18n.set_language("ru")
    assert "(2 минуты)" in action_text(row, CHANGED)
    assert "(1 минута)" in action_text(row)
    expired = SimpleNamespace(kind="deposit_expired", payment_id="k24_x", evidence={}, action="stored")
    assert "(10 дней)" in action_text(expired, CHANGED)
    i18n.set_language("kk")
    assert "(5 минут)" in action_text(SimpleNamespace(kind="likely_retry", payment_id="p", evidence={}), CHANGED)


def test_the_monthly_limit_is_said_as_configured() -> None:
    (finding,) = rules.monthly_limit({("7001", "2026-05"): 300_000}, 250_000, NOW)
    assert finding.action == "The customer's payments this month exceed the provider limit of 2,500.00 KZT."
    i18n.set_language("ru")
    assert "(2\u00a0500,00\u00a0₸)" in action_text(SimpleNamespace(**finding.flag_args()))


def test_the_thresholds_are_named_once_and_handed_to_the_reconciling_child() -> None:
    assert Thresholds._fields == RECONCILE_THRESHOLDS
    assert set(RECONCILE_THRESHOLDS) <= set(PASSED)
    settings = Settings(callback_warning_seconds=90, callback_expiry_days=7, retry_window_seconds=30)
    assert Thresholds.of(settings) == (90, 7, 30)
    defaults = Settings()
    assert Thresholds.default() == tuple(getattr(defaults, name) for name in RECONCILE_THRESHOLDS)


def test_reconciliation_stores_the_action_with_the_configured_threshold(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", callback_warning_seconds=120)

    async def run() -> list[str]:
        store = Store(settings.database_url)
        await store.open()
        try:
            at = now_us()
            values = {
                "project_id": settings.project_id,
                "payment_id": "k24_overdue",
                "customer_id": "7001",
                "contract_id": None,
                "number": None,
                "amount": 100_000,
                "currency": "KZT",
                "state": "pending",
                "created_at": at,
                "updated_at": at,
            }
            await store.insert_deposit(values)
            day = datetime.fromtimestamp(at / 1e6, ZONE).date()
            period = Period.of_days(day, day, ZONE)
            await reconcile(store, settings, period, now=at + 90_000_000)  # not yet past 2 minutes
            await reconcile(store, settings, period, now=at + 150_000_000)
            rows = await store.scan(lambda c: c.exec_driver_sql("SELECT action FROM mismatches").all())
            return [row.action for row in rows]
        finally:
            await store.close()

    (action,) = asyncio.run(run())
    assert action.startswith("No callback yet past the basic time of 2 minutes: ")
    assert "reconcile --credit-deposit k24_overdue " in action
