"""Submit eval results to the Hub (model-index PR + VIUBench entry): ``python eval/submit.py --help``."""

import sys

from videossr.eval.hub_submit import main

if __name__ == "__main__":
    sys.exit(main())
