"""Figure 1 analysis: ``python train/pass_rate.py --model M --dataset D --k 8 [--filter OUT]`` (same as
``videossr-pass-rate``).

See ``--help``, :mod:`videossr.train.zero_variance` and docs/training.md.
"""

import sys

from videossr.train.cli import pass_rate_main

if __name__ == "__main__":
    sys.exit(pass_rate_main())
