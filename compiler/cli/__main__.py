"""``python -m policypacks.cli``: the same as the ``policypacks`` command."""

from . import main

main()
