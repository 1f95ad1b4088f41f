"""``python -m samskaping.runs``: see :mod:`samskaping.cli.runs`."""

import sys

from samskaping.cli.runs import main

sys.exit(main())
