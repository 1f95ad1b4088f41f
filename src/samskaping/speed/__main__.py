"""``python -m samskaping.speed``."""

import sys

from samskaping.cli.speed import main

sys.exit(main())
