"""``python -m eamp.cli``: the ``eamp`` command."""

import sys

from eamp.cli import main

sys.exit(main())
