"""GRPO training on a VideoSSR dataset: ``python train/grpo.py --dataset videossr-30k --model MODEL``.

See ``python train/grpo.py --help`` and :mod:`videossr.train.cli`.
"""

import sys

from videossr.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
