"""``python -m samskaping.spark``: see :mod:`samskaping.cli.spark`."""

import sys

from samskaping.cli.spark import main

sys.exit(main())
