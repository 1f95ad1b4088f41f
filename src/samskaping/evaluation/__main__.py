"""``python -m samskaping.evaluation``: see :mod:`samskaping.cli.evaluation`."""

import sys

from samskaping.cli.evaluation import main

sys.exit(main())
