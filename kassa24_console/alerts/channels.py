"""Where alerts go: Apprise URLs, each a channel of its own.

An Apprise URL carries its secrets (a bot token, a mail password, a webhook path), so a
channel is only ever shown as its scheme and host (``mailto://smtp.example.kz``), and what
Apprise says about a failure is kept only with every part of the URL but those removed.
Apprise's own log stays quiet: it may name the URL. Each channel is tried on its own, with
backoff between attempts, in a thread (Apprise is synchronous): a slow or failing channel
holds up neither the event loop nor any other channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import apprise

log = logging.getLogger(__name__)

# Apprise logs URLs and answers with secrets in them, and urllib3 under it logs request
# paths (a webhook's token): their records never reach our log. Apprise still hands us
# its warnings of a call (redacted below).
for _name in ("apprise", "urllib3"):
    logging.getLogger(_name).propagate = False
    logging.getLogger(_name).addHandler(logging.NullHandler())

# Schemes whose host part is itself the secret (Telegram's bot token).
SECRET_HOST_SCHEMES = frozenset({"tgram"})
ERROR_CHARS = 300


@dataclass(frozen=True)
class Outcome:
    """What one channel did with one message."""

    channel: str
    ok: bool
    attempts: int
    error: str | None = None


class Channel:
    """One Apprise URL: its safe name, and sending through it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.name = display(url)
        import apprise  # here: ~0.1 s of imports that serve without alert URLs never pays

        self._apprise: apprise.Apprise = apprise.Apprise()
        self.problem = None if self._apprise.add(url) else "not a URL Apprise understands"

    def __repr__(self) -> str:  # never the URL
        return f"Channel({self.name})"

    async def send(self, title: str, body: str, *, attempts: int, backoff: float) -> Outcome:
        """Try up to ``attempts`` times, waiting ``backoff`` seconds, then twice that, …"""
        if self.problem:
            return Outcome(self.name, False, 0, self.problem)
        error: str | None = "not delivered"
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await asyncio.sleep(backoff * 2 ** (attempt - 2))
            try:
                ok, error = await asyncio.to_thread(self._send_once, title, body)
            except Exception as failure:  # a plugin's bug must not end the delivery loop
                ok, error = False, redact(f"{type(failure).__name__}: {failure}", self._url)
            if ok:
                return Outcome(self.name, True, attempt)
            log.warning("alert channel %s: attempt %d of %d failed: %s", self.name, attempt, attempts, error)
        return Outcome(self.name, False, attempts, error)

    def _send_once(self, title: str, body: str) -> tuple[bool, str | None]:
        result = self._apprise.notify(body=body, title=title, log_level=logging.WARNING)
        if bool(result):
            return True, None
        messages = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
        return False, redact(messages[-1] if messages else "not delivered", self._url)


def channels(urls: list[str]) -> list[Channel]:
    return [Channel(url) for url in urls]


def display(url: str) -> str:
    """The URL as scheme and host only (``json://127.0.0.1:8025``), the secret parts gone."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "?"
    if scheme in SECRET_HOST_SCHEMES:
        return f"{scheme}://…"
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return f"{scheme}://…"
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def redact(text: str, url: str) -> str:
    """``text`` with every part of ``url`` other than its scheme and host replaced by ``…``."""
    secrets = {url, unquote(url)}
    try:
        parts = urlsplit(url)
        secrets |= {parts.username or "", parts.password or "", unquote(parts.password or "")}
        secrets |= set(re.split(r"[/?&=:@]+", parts.path + "?" + parts.query))
        if parts.scheme.lower() in SECRET_HOST_SCHEMES:
            secrets |= {parts.netloc, *re.split(r"[:@]+", parts.netloc)}
    except ValueError:
        pass
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "…")
    return " ".join(text.split())[:ERROR_CHARS]


async def send_all(targets: list[Channel], title: str, body: str, *, attempts: int, backoff: float) -> list[Outcome]:
    """Send through every channel at once; each result as it ends, none waiting for another."""
    return list(await asyncio.gather(*(c.send(title, body, attempts=attempts, backoff=backoff) for c in targets)))
