"""Score a model on VIUBench and the paper's video benchmarks: ``python eval/run.py --help``."""

import sys

from videossr.eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
