"""``python -m eamp``: the ``eamp`` command, for an environment where eamp is importable but
not installed (a GPU image run from a checkout with ``PYTHONPATH``)."""

from eamp.cli import main

raise SystemExit(main())
