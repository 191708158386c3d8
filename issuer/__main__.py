"""``python -m issuer`` runs the ``pith`` CLI."""

from issuer.cli import main

main()
