"""lookalike: learn what makes unlabeled images alike, then search, verify and recognise with it."""

__version__ = "0.1.0"
