"""Build VideoSSR datasets: ``python build/run.py --help``."""

import sys

from videossr.build.cli import main

if __name__ == "__main__":
    sys.exit(main())
