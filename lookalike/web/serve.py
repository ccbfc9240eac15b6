"""Running the web app on uvicorn, with the app object itself: the model is loaded once, before the first request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import uvicorn

from lookalike.embed import EmbedSettings
from lookalike.uploads import UploadLimits, return_large_buffers_to_the_system
from lookalike.web.app import DEFAULT_MAX_UPLOAD_BYTES, create_app
from lookalike.web.security import allowed_hosts_for
from lookalike.workspace import ModelLike


def serve(
    gallery: str | Path,
    model: ModelLike = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    upload_limits: UploadLimits = UploadLimits(),
    allowed_hosts: Sequence[str] = (),
    settings: EmbedSettings = EmbedSettings(workers=0),
    say: Callable[[str], None] = print,
) -> None:
    """Serve `gallery` until interrupted. Problems with the gallery or model surface here, before listening.
    The server answers the Host names that `allowed_hosts_for(host, allowed_hosts)` gives."""
    return_large_buffers_to_the_system()
    hosts = allowed_hosts_for(host, allowed_hosts)
    app = create_app(gallery, model, token=token, max_upload_bytes=max_upload_bytes, upload_limits=upload_limits,
                     allowed_hosts=hosts, settings=settings)
    say(f"serving {Path(gallery)} at http://{host}:{port}/ (API docs at /docs); enrolment "
        f"{'needs the token' if token else 'is off (no token)'}; answering Host names: {', '.join(hosts)}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
