"""``python -m samskaping.review``: see :mod:`samskaping.cli.review`."""

import sys

from samskaping.cli.review import main

sys.exit(main())
