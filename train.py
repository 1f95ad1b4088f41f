"""Train a samskaping classifier: ``python train.py --config configs/baseline.yaml``."""

import sys

from samskaping.cli.train import train_main

if __name__ == "__main__":
    sys.exit(train_main())
