"""The platform's Data API: ``POST {base}/v1/operations/get``, paged, signed both ways.

Key and field names are configuration (several are unconfirmed); they live in one place:
:class:`~kassa24_console.config.Settings` ``data_api_keys`` / ``data_api_fields``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ..protocol.signature import signed, verify
from .report import Operation, operation_from

PAGE = 1000  # the API's maximum and default


class DataApiError(Exception):
    """The Data API did not give a usable answer; nothing was applied."""


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
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/operations/get"
        self.token, self.secret = token, secret
        self.keys, self.fields = keys, fields
        self.timeout, self.amount_unit = timeout, amount_unit
        self.timezone, self.project_id = timezone, project_id

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
        }
        return signed(body, self.secret)

    async def operations(self, start: datetime, end: datetime) -> list[Operation]:
        """Every operation in [start, end), page by page."""
        found: list[Operation] = []
        zone = ZoneInfo(self.timezone)
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            offset = 0
            while True:
                items = await self._page(client, start, end, offset)
                for index, item in enumerate(items):
                    values = {ours: item.get(theirs) for ours, theirs in self.fields.items()}
                    try:
                        found.append(
                            operation_from(values, unit=self.amount_unit, date_format="%Y-%m-%d %H:%M:%S", zone=zone)
                        )
                    except ValueError as error:
                        raise DataApiError(f"item {offset + index}: {error}") from None
                if len(items) < PAGE:
                    return found
                offset += PAGE

    async def _page(self, client: httpx.AsyncClient, start: datetime, end: datetime, offset: int) -> list[Any]:
        try:
            response = await client.post(self.url, json=self._request(start, end, offset))
        except httpx.TimeoutException:
            raise DataApiError(f"the Data API did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as error:
            raise DataApiError(f"cannot reach the Data API: {type(error).__name__}") from None
        if response.status_code != 200:
            raise DataApiError(f"the Data API answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise DataApiError("the Data API's answer is not JSON") from None
        if not isinstance(data, dict) or not verify(data, self.secret):
            raise DataApiError("the Data API's answer is not signed with the token's key: refused")
        items = data.get(self.keys["items"])
        if not isinstance(items, list):
            raise DataApiError(f"the Data API's answer has no '{self.keys['items']}' list")
        return items
