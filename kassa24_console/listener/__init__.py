"""The HTTP side: the listener's ASGI app, small layers around the protocol's routes
(:func:`listener_app`), and the uvicorn server that embeds it in any asyncio loop
(:class:`Listener`).

Routing, the allow-list, the budget of unverified work, the body limit, the traffic record
and the request log live here; every decision about a message is the service's.
"""

from .app import ListenerApp, listener_app
from .server import Listener, ListenError, bind

__all__ = ["ListenError", "Listener", "ListenerApp", "bind", "listener_app"]
