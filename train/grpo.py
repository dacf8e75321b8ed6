"""GRPO training: ``python train/grpo.py --dataset videossr-30k --model MODEL`` (same as ``videossr-train``).

See ``--help``, :mod:`videossr.train.cli` and docs/training.md.
"""

import sys

from videossr.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
