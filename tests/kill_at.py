"""Run `lookalike` and SIGKILL it at the moment a given function is called for the Nth time, before that call runs:
the crash a power cut or `kill -9` makes, at an exact point.

    python kill_at.py MODULE ATTRIBUTE N [lookalike arguments...]

ATTRIBUTE may name a function of MODULE or a method (``Class.method``). Indexing commits after every batch here
(instead of every 30 s), so that a run has several commits to be killed between.
"""

from __future__ import annotations

import os
import signal
import sys
from importlib import import_module


def main() -> None:
    module, attribute, nth, *arguments = sys.argv[1:]
    owner = import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    calls = 0

    def kill_on_call(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(owner, name, kill_on_call)
    import lookalike.indexing

    lookalike.indexing.COMMIT_EVERY_SECONDS = 0.0
    sys.argv = ["lookalike", *arguments]
    from lookalike.cli import main as lookalike

    lookalike()


if __name__ == "__main__":
    main()
