"""Reading the small JSON files that describe what lookalike stores (a model's config, a gallery's manifest, a
checkpoint's state), with every way one can be unusable said in words that name the file."""

from __future__ import annotations

import json
from pathlib import Path

from lookalike.errors import LookalikeError


def read_json_object(path: Path, *, missing: str, what: str) -> dict:
    """The JSON object in `path`. Raises `LookalikeError`: with the message `missing` when there is no such file,
    else naming the file as an unreadable or invalid `what` ("model config", say)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LookalikeError(missing) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LookalikeError(f"{path.parent}: cannot read {path.name}, its {what} ({error})") from None
    if not isinstance(data, dict):
        raise LookalikeError(f"{path.parent}: {path.name} is invalid: its {what} is not a JSON object")
    return data
