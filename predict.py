"""Classify municipal plans: ``python predict.py --model models/NAME plans/ --output out/``."""

import sys

from samskaping.cli import predict_main

if __name__ == "__main__":
    sys.exit(predict_main())
