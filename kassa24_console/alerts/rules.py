"""The rules: what the store knows now → the alert conditions that hold.

Each rule reads a few indexed rows (traffic by time, deposits by state, findings by state)
and returns the conditions that hold, each under a stable ``key``: the same condition found
again in five seconds, by another process, or after a restart, is the same alert.
Titles are fixed English sentences (stored as keys, translated where shown and sent,
:mod:`.words`); bodies are written in the operator's language as the rules run.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..config import Settings
from ..findings import RULE_KINDS
from ..i18n import _, ngettext
from ..money import plain
from ..reasons import reason_text
from ..reconcile.words import kind_name
from ..store import alerts as sa
from ..store import views
from ..store.alerts import ActiveAlert

SECOND_US = 1_000_000
GROUPS_READ = 500  # (peer and port, kind, diagnosis) groups read: merged by peer here
SHOWN = 5  # payment ids, peers, … named in a message; the rest are counted
FINDINGS_LOOKBACK_US = 24 * 3600 * SECOND_US  # reconciliation runs older than this never start an alert

RULES = (
    "signature_failures",
    "callback_overdue",
    "callbacks_silent",
    "errors",
    "writes_failing",
    "new_findings",
    "key_expiring",
)


@dataclass(frozen=True)
class Condition:
    """An alert condition that holds now."""

    key: str
    rule: str
    title: str
    text: str
    project_id: int | None = None  # the project it is about; None: the whole install


def evaluate(connection: Connection, settings: Settings, now: int, active: list[ActiveAlert]) -> list[Condition]:
    """Every rule over the store (all but ``writes_failing``: that one is the write probe's).
    ``active``: the active episodes, so a reconciliation run's alert holds while its findings do."""
    found: list[Condition] = []
    for rule in (_signature_failures, _callback_overdue, _callbacks_silent, _errors):
        found.extend(rule(connection, settings, now))
    found.extend(_new_findings(connection, settings, now, active))
    found.extend(_key_expiring(connection, settings, now))
    return found


def writes_failing(problem: str | None) -> list[Condition]:
    if not problem or not problem.startswith(("writes fail", "database unreachable")):
        return []
    text = _(
        "The database does not take writes: {problem}. Payments cannot be answered or recorded until it does: "
        "check the disk space, the file's permissions, or the database server."
    ).format(problem=problem)
    return [Condition("writes_failing", "writes_failing", "Database writes are failing", text)]


def _signature_failures(connection: Connection, settings: Settings, now: int) -> list[Condition]:
    since = now - int(settings.alert_window_seconds * SECOND_US)
    total = sa.signature_failure_count(connection, since)
    if total < settings.alert_signature_failures:
        return []
    window = _duration(settings.alert_window_seconds)
    lines = [
        ngettext(
            "{n} request failed the signature in the last {window}.",
            "{n} requests failed the signature in the last {window}.",
            total,
        ).format(n=total, window=window),
        _("Likely cause: the platform's key changed (or ours), or a signer form we do not know."),
    ]
    groups: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in sa.signature_failures(connection, since, GROUPS_READ):
        groups[(_host(row.peer), row.kind, row.reason or "")] += row.n
    ranked = sorted(groups.items(), key=lambda item: -item[1])
    for (peer, kind, reason), n in ranked[:SHOWN]:
        said = reason_text(reason) if reason else _("no diagnosis")
        lines.append(
            _("- {n} × {kind} from {peer}: {reason}").format(
                n=n, kind=kind, peer=peer or _("unknown peer"), reason=said
            )
        )
    if len(ranked) > SHOWN:
        more = len(ranked) - SHOWN
        lines.append(
            ngettext("… and {n} more kind of failure.", "… and {n} more kinds of failure.", more).format(n=more)
        )
    return [Condition("signature_failures", "signature_failures", "Requests fail the signature", "\n".join(lines))]


def _host(peer: str) -> str:
    """A peer without its connection's port (``10.0.0.5:50213`` → ``10.0.0.5``)."""
    return peer if " via " in peer else re.sub(r":\d+$", "", peer)


def _callback_overdue(connection: Connection, settings: Settings, now: int) -> list[Condition]:
    total, rows = sa.overdue_deposits(connection, now - int(settings.alert_callback_overdue_seconds * SECOND_US), SHOWN)
    if not total:
        return []
    waited = _duration(settings.alert_callback_overdue_seconds)
    lines = [
        ngettext(
            "{n} deposit has waited longer than {waited} for a callback:",
            "{n} deposits have waited longer than {waited} for a callback:",
            total,
        ).format(n=total, waited=waited)
    ]
    for row in rows:
        lines.append(
            _("- {payment_id}: customer {customer}, {amount}").format(
                payment_id=row.payment_id, customer=row.customer_id, amount=plain(row.amount, row.currency)
            )
        )
    if total > len(rows):
        lines.append(_("… and {n} more.").format(n=total - len(rows)))
    return [Condition("callback_overdue", "callback_overdue", "Callbacks are overdue", "\n".join(lines))]


def _callbacks_silent(connection: Connection, settings: Settings, now: int) -> list[Condition]:
    last, first_since = sa.callback_silence(connection)
    silence = int(settings.alert_callback_silence_minutes * 60 * SECOND_US)
    if first_since is None or now - max(first_since, last or 0) < silence:
        return []
    minutes = _duration(settings.alert_callback_silence_minutes * 60)
    text = _(
        "Deposits were issued but no callback at all arrived for {minutes}. "
        "Is the platform reaching our callback URL (firewall, proxy, TLS certificate, the URL the platform has)?"
    ).format(minutes=minutes)
    return [Condition("callbacks_silent", "callbacks_silent", "No callbacks arrive", text)]


def _errors(connection: Connection, settings: Settings, now: int) -> list[Condition]:
    total, failed = sa.error_counts(connection, now - int(settings.alert_window_seconds * SECOND_US))
    if total < settings.alert_error_min_requests or failed < settings.alert_error_share * total:
        return []
    text = _(
        "{failed} of {total} requests in the last {window} were answered "
        "with code 500 or an HTTP 5xx ({share} %). The log file says why."
    ).format(
        failed=failed, total=total, window=_duration(settings.alert_window_seconds), share=f"{failed * 100 / total:.0f}"
    )
    return [Condition("errors", "errors", "Requests are failing", text)]


def _new_findings(connection: Connection, settings: Settings, now: int, active: list[ActiveAlert]) -> list[Condition]:
    """One alert per reconciliation run (its findings share a ``found_at``) that opened
    findings involving money, and per callback the listener found disagreeing (an amount,
    a currency, a status); it holds while any of them is open."""
    runs = [int(row.key.split(":", 1)[1]) for row in active if row.rule == "new_findings"]
    since = min([now - FINDINGS_LOOKBACK_US, *runs])
    grouped: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for row in sa.open_findings_since(connection, RULE_KINDS, since):
        amount = _amount(row.evidence)
        if amount:
            grouped[row.found_at][row.kind].append(amount)
    zone = ZoneInfo(settings.timezone)
    found = []
    for found_at, kinds in sorted(grouped.items()):
        when = datetime.fromtimestamp(found_at / SECOND_US, zone).strftime("%Y-%m-%d %H:%M")
        lines = [
            _("Found at {when} (reconciliation, or a callback as it arrived): money the records disagree on.").format(
                when=when
            )
        ]
        for kind, amounts in sorted(kinds.items()):
            lines.append(
                _("- {kind}: {n}, {amount} in all").format(
                    kind=kind_name(kind), n=len(amounts), amount=plain(sum(amounts), settings.currency)
                )
            )
        lines.append(_("The Mismatches pane has the evidence and what to do."))
        title = "New findings involve money"
        found.append(Condition(f"new_findings:{found_at}", "new_findings", title, "\n".join(lines)))
    return found


def _key_expiring(connection: Connection, settings: Settings, now: int) -> list[Condition]:
    """A project's previous key still signed requests in the last day while its end is near:
    after that moment those requests will fail the signature."""
    lead = int(settings.alert_key_expiring_hours * 3600 * SECOND_US)
    ending = [p for p in settings.projects if p.previous_until_us is not None and 0 < p.previous_until_us - now <= lead]
    if not ending:
        return []
    used = {
        row.project_id: row
        for row in views.key_use(connection, now - KEY_USE_LOOKBACK_US, ("previous",))
        if row.key_used == "previous"
    }
    zone = ZoneInfo(settings.timezone)
    found = []
    for project in ending:
        if (row := used.get(project.project_id)) is None:
            continue
        assert project.previous_until_us is not None
        until = datetime.fromtimestamp(project.previous_until_us / SECOND_US, zone).strftime("%Y-%m-%d %H:%M")
        text = (
            f"{row.n} requests of project {project.label} were signed with its previous key in the last 24 h; "
            f"that key is accepted until {until} and refused after it. Ask the platform to sign with the new key "
            "(kassa24-console keys shows which key signs)."
        )
        title = f"The previous key of project {project.label} is still in use"
        key = f"key_expiring:{project.project_id}"
        found.append(Condition(key, "key_expiring", title, text, project.project_id))
    return found


KEY_USE_LOOKBACK_US = 24 * 3600 * SECOND_US


def _amount(evidence: Any) -> int:
    """The first positive ``amount`` anywhere in a finding's evidence (0 if none)."""
    if isinstance(evidence, dict):
        value = evidence.get("amount")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        children: Any = evidence.values()
    elif isinstance(evidence, list):
        children = evidence
    else:
        return 0
    for child in children:
        if found := _amount(child):
            return found
    return 0


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return _("{n} h").format(n=f"{seconds / 3600:.0f}")
    if seconds >= 60 and seconds % 60 == 0:
        return _("{n} min").format(n=f"{seconds / 60:.0f}")
    return _("{n} s").format(n=f"{seconds:g}")
