"""``python -m samskaping.export``: see :mod:`samskaping.cli.export`."""

import sys

from samskaping.cli.export import main

sys.exit(main())
