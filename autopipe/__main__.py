"""`python -m autopipe` = the `autopipe` console script."""

from autopipe.cli import main

main()
