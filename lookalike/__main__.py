"""`python -m lookalike` is the same as the `lookalike` command."""

from lookalike.cli import main

main()
