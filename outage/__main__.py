"""``python -m outage`` runs the CLI."""

from outage.cli import main

main()
