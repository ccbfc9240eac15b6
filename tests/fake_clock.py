"""A clock that a test moves by hand, for code that takes `clock=` (time.perf_counter's signature)."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
