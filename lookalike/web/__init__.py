"""`lookalike serve`: a gallery's page and JSON API over HTTP (FastAPI on uvicorn)."""

from lookalike.web.app import DEFAULT_MAX_UPLOAD_BYTES, create_app
from lookalike.web.serve import serve

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "create_app", "serve"]
