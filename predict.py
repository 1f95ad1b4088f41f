"""Classify municipal plans: ``python predict.py plans/ --output out/ [--model models/NAME]``."""

import sys

from samskaping.cli.predict import predict_main

if __name__ == "__main__":
    sys.exit(predict_main())
