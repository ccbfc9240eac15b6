"""What every response carries, and which Host names the server answers to.

Headers: every response, the JSON API, static files and the API docs included, forbids framing (clickjacking),
content sniffing and referrers, and carries a Content-Security-Policy. The docs page runs Swagger UI's inline start-up
script, so it alone allows inline scripts and styles; everything else allows only the server's own files.

Hosts: a browser on a page from a hostile site can be made to reach a server on 127.0.0.1 under that site's name (DNS
rebinding), and then read the answers as if they were that site's. Answering only the Host names the server was
started for closes that door.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = ("default-src 'self'; img-src 'self' blob:; script-src 'self'; style-src 'self'; object-src 'none'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOCS_POLICY = ("default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
               "form-action 'none'")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


class SecurityHeaders:
    """ASGI middleware that adds the security headers to every HTTP response it passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (DOCS_POLICY if scope["path"] in DOCS_PATHS else PAGE_POLICY).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in [*_COMMON, (b"content-security-policy", policy)]
                         if name not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def allowed_hosts_for(bind: str, extra: Iterable[str] = ()) -> list[str]:
    """The Host names a server listening on `bind` answers to: the loopback names always; the address itself when
    it is a specific one; this machine's names when it listens everywhere; and `extra`, the names clients use (a
    reverse proxy's domain, "*" for any)."""
    hosts = list(LOOPBACK_NAMES)
    if bind in WILDCARD_BINDS:
        hosts += [socket.gethostname(), socket.getfqdn()]
    elif bind not in ("localhost", "::1"):
        hosts.append(f"[{bind}]" if ":" in bind else bind)
    hosts += list(extra)
    return list(dict.fromkeys(host.lower() for host in hosts if host))
