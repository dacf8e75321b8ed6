"""Submit eval results to the Hub (model-index pull request, VIUBench entry).

``python eval/submit.py --help``; the same as ``videossr-submit``.
"""

import sys

from videossr.eval.cli import submit_main

if __name__ == "__main__":
    sys.exit(submit_main())
