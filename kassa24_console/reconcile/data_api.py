"""The platform's Data API: ``POST {base}/v1/operations/get``, paged, signed both ways.

Key and field names are configuration (several are unconfirmed); they live in one place:
:class:`~kassa24_console.config.Settings` ``data_api_keys`` / ``data_api_fields``.

Written for a real API rather than the documented one: it pages until the API says there is
no more (an empty page, or a ``total`` / ``has_more`` it sends), never until a short page
(an API that pages by 500 would otherwise look finished after the first); a page that
repeats the previous one means the offset is ignored, and stops with an error instead of
looping; a bound on pages is the last resort. 5xx answers and timeouts are retried with
backoff. Nothing is returned, so nothing is applied, unless the whole period came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..config import DEFAULT_REPORT_TYPES
from ..errors import RemoteError
from ..i18n import _
from ..protocol.signature import signed, verify
from ..zones import zone as time_zone
from .report import Operation, operation_from, operation_type, words

if TYPE_CHECKING:  # httpx is imported when the API is asked, not by every reconcile
    import httpx

PAGE = 1000  # the API's maximum and default
MAX_PAGES = 10_000  # ten million operations: past it something is wrong with the paging
RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds before each retry of a 5xx or a timeout


class DataApiError(RemoteError):
    """The Data API did not give a usable answer; nothing was applied."""


class _Retryable(DataApiError):
    pass


class DataApi:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        secret: str,
        keys: dict[str, str],
        fields: dict[str, str],
        timeout: float,
        amount_unit: str,
        timezone: str,
        project_id: int,
        types: dict[str, str] | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/operations/get"
        self.token, self.secret = token, secret
        self.keys, self.fields = keys, fields
        self.timeout, self.amount_unit = timeout, amount_unit
        self.timezone, self.project_id = timezone, project_id
        self.types = words(DEFAULT_REPORT_TYPES if types is None else types)
        self.retry_delays, self.max_pages = tuple(retry_delays), max_pages

    def _request(self, start: datetime, end: datetime, offset: int) -> dict[str, Any]:
        k = self.keys
        body = {
            k["token"]: self.token,
            k["project_ids"]: [self.project_id],
            k["interval"]: {k["from"]: start.strftime("%Y-%m-%d %H:%M:%S"), k["to"]: end.strftime("%Y-%m-%d %H:%M:%S")},
            k["timezone"]: self.timezone,
            k["limit"]: PAGE,
            k["offset"]: offset,
            k["operation_type"]: "sale",
            k["fields"]: sorted(set(self.fields.values())),
        }
        return signed(body, self.secret)

    async def operations(self, start: datetime, end: datetime) -> list[Operation]:
        """Every operation in [start, end), page by page; :class:`DataApiError` unless all came."""
        found: list[Operation] = []
        zone = time_zone(self.timezone)
        previous: tuple[str, ...] | None = None
        import httpx

        async with httpx.AsyncClient(timeout=self.timeout) as client:
            offset = 0
            for _page_number in range(self.max_pages):
                data = await self._page_with_retries(client, start, end, offset)
                items = data[self.keys["items"]]
                if not items:
                    return found
                ids = tuple(str(item.get(self.fields["operation_id"])) for item in items if isinstance(item, dict))
                if ids == previous:
                    raise DataApiError(
                        _(
                            "the Data API sent the same page again at offset {offset}: it ignores "
                            "'{key}', so the period cannot be read whole"
                        ).format(offset=offset, key=self.keys["offset"])
                    )
                previous = ids
                found += self._parse(items, offset, zone)
                offset += len(items)
                if self._finished(data, offset):
                    return found
        raise DataApiError(_("more than {n} pages: stopped before the end of the period").format(n=self.max_pages))

    def _parse(self, items: list[Any], offset: int, zone: ZoneInfo) -> list[Operation]:
        parsed = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise DataApiError(_("item {n}: not an object").format(n=offset + index))
            values = {ours: item.get(theirs) for ours, theirs in self.fields.items()}
            try:
                operation = operation_from(values, unit=self.amount_unit, date_format="%Y-%m-%d %H:%M:%S", zone=zone)
                parsed.append(replace(operation, type=operation_type(operation.type, self.types)))
            except ValueError as error:
                raise DataApiError(_("item {n}: {error}").format(n=offset + index, error=error)) from None
        return parsed

    @staticmethod
    def _finished(data: dict[str, Any], offset: int) -> bool:
        """What the API says about the rest, when it says anything (else: ask for the next page)."""
        if isinstance(data.get("has_more"), bool):
            return not data["has_more"]
        for name in ("total", "total_count", "count_total"):
            if isinstance(data.get(name), int) and not isinstance(data.get(name), bool):
                return offset >= data[name]
        return False

    async def _page_with_retries(
        self, client: httpx.AsyncClient, start: datetime, end: datetime, offset: int
    ) -> dict[str, Any]:
        for delay in (*self.retry_delays, None):
            try:
                return await self._page(client, start, end, offset)
            except _Retryable as error:
                if delay is None:
                    tries = len(self.retry_delays) + 1
                    raise DataApiError(_("{error} (tried {n} times)").format(error=error, n=tries)) from None
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _page(self, client: httpx.AsyncClient, start: datetime, end: datetime, offset: int) -> dict[str, Any]:
        import httpx

        try:
            response = await client.post(self.url, json=self._request(start, end, offset))
        except httpx.TimeoutException:
            raise _Retryable(_("the Data API did not answer within {n} s").format(n=f"{self.timeout:g}")) from None
        except httpx.HTTPError as error:
            raise _Retryable(_("cannot reach the Data API: {error}").format(error=type(error).__name__)) from None
        answered = _("the Data API answered HTTP {status}").format(status=response.status_code)
        if response.status_code >= 500:
            raise _Retryable(answered + _their_words(response))
        if response.status_code != 200:
            raise DataApiError(answered + _their_words(response))
        try:
            data = response.json()
        except ValueError:
            raise DataApiError(_("the Data API's answer is not JSON")) from None
        if not isinstance(data, dict) or not verify(data, self.secret):
            raise DataApiError(_("the Data API's answer is not signed with the token's key: refused"))
        if not isinstance(data.get(self.keys["items"]), list):
            no_list = _("the Data API's answer has no '{key}' list").format(key=self.keys["items"])
            raise DataApiError(no_list + _their_words(response))
        return data


def _their_words(response: httpx.Response) -> str:
    """The API's own error text, when it sent one (never more than a line)."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return f": {text.splitlines()[0][:200]}" if text else ""
    if isinstance(data, dict):
        for name in ("error", "message", "errors", "description"):
            if data.get(name):
                value = data[name]
                return (f": {value}" if isinstance(value, str) else f": {value!r}")[:200]
    return ""
