"""The upload size limit, enforced before a body is parsed: a declared Content-Length over the limit is refused
without reading a byte, and a body that streams past the limit (sent chunked, or longer than it declared) is cut
off as soon as it does. Both answer 413 with a message in words."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(max_bytes: int) -> str:
    limit = f"{max_bytes / 2**20:g} MiB" if max_bytes >= 2**20 else f"{max_bytes / 2**10:g} KiB"
    return f"the upload is too large: the limit is {limit} for one request"


class UploadLimit:
    """ASGI middleware that limits every request body to `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > self.max_bytes:
                await _refuse(send, 413, too_large(self.max_bytes))
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, too_large(self.max_bytes))  # FastAPI answers it where the body is parsed
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})
