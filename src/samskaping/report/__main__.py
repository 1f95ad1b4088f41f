"""``python -m samskaping.report DIR``: see :mod:`samskaping.cli.report`."""

import sys

from samskaping.cli.report import main

sys.exit(main())
