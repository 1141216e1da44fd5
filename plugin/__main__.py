"""``python -m plugin`` is the ``relais`` command."""

from plugin.cli import main

main()
