"""`python -m bot` is the `htx` command."""

from bot.cli import main

main()
