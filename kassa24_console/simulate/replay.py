"""``simulate replay ID``: send a stored request or callback again, as it was or changed.

Like resending an event from a payment provider's dashboard: the traffic record holds what
the platform sent; replay posts it to this merchant or another (``--url``). As stored it
goes byte for byte, signature and all; with ``--set path=value`` the changed body is signed
again with the key the simulator uses (``--secret-key-file``, else the configured one).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..config import Settings
from ..errors import Kassa24Error
from ..i18n import _
from ..protocol.signature import signed
from ..runtime import open_store
from ..store import Store, changes


class ReplayError(Kassa24Error):
    """Nothing was sent; the text says why."""


def override(body: dict[str, Any], assignment: str, kind: str = "record") -> None:
    """Apply ``a.b.c=value`` to ``body``: the value as JSON when it parses, else as text.
    Only a field the stored body has can be changed: ``payment.status`` on a check_deposit
    would otherwise add a ``payment`` object no check_deposit carries."""
    path, sep, text = assignment.partition("=")
    if not sep or not path:
        raise ReplayError(
            _("--set {assignment}: use path=value, e.g. payment.status=decline").format(assignment=repr(assignment))
        )
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    node = body
    keys = path.split(".")
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(keys[: depth + 1])
            fields = ", ".join(sorted(node)) if isinstance(node, dict) else _("none (not an object)")
            message = _("--set {path}: this {kind} has no field {where} (its fields there: {fields})")
            raise ReplayError(message.format(path=path, kind=kind, where=where, fields=fields))
        if depth < len(keys) - 1:
            node = node[key]
    node[keys[-1]] = value


async def stored(settings: Settings, traffic_id: int) -> changes.Exchange | None:
    store = Store(settings.store_url, project_id=settings.project_id)
    await open_store(store, settings)
    try:
        return await store.read(changes.exchange, traffic_id)
    finally:
        await store.close()


def target(row: changes.Exchange, url: str | None, callback_url: str | None, settings: Settings) -> str:
    base = url or f"http://127.0.0.1:{settings.port}{settings.path}"
    if row.kind == "callback":
        return callback_url or (
            base.rstrip("/") + "/callback" if url else f"http://127.0.0.1:{settings.port}{settings.callback_path}"
        )
    return base


async def replay(
    settings: Settings,
    traffic_id: int,
    *,
    url: str | None,
    callback_url: str | None,
    assignments: list[str],
    secret: str | None,
    timeout: float,
) -> tuple[str, bytes, httpx.Response]:
    """Send traffic record ``traffic_id`` again; returns (where, what was sent, the answer).
    A changed body is signed with ``secret``, else with the key of the record's project."""
    row = await stored(settings, traffic_id)
    if row is None:
        raise ReplayError(_("no traffic record {id} in this database").format(id=traffic_id))
    if not row.signature_ok:
        raise ReplayError(
            _("traffic record {id} failed its signature and was kept abridged: nothing to replay").format(id=traffic_id)
        )
    content = row.request.encode()
    if assignments:
        body = json.loads(row.request)
        for assignment in assignments:
            override(body, assignment, row.kind)
        project = settings.project(row.project_id)
        key = secret if secret is not None else (project.secret if project is not None else settings.secret)
        content = json.dumps(signed(body, key), ensure_ascii=False).encode()
    where = target(row, url, callback_url, settings)
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            answer = await client.post(where, content=content, headers={"content-type": "application/json"})
        except httpx.HTTPError as error:
            message = _("cannot reach {where}: {error}").format(where=where, error=f"{type(error).__name__}: {error}")
            raise ReplayError(message) from None
    return where, content, answer
