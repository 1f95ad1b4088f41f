"""``python -m samskaping.data``: see :mod:`samskaping.cli.data`."""

import sys

from samskaping.cli.data import main

sys.exit(main())
