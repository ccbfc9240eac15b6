"""`python -m lookalike`, which is also how torchrun starts it: torchrun --nproc-per-node 2 -m lookalike train ..."""

from lookalike.cli import main

main()
