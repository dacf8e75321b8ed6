"""Build VideoSSR datasets: ``python build/run.py --help``."""

import sys
from pathlib import Path

# This script's folder is build/ (the videossr.build package); keep it off sys.path so that its modules
# can never shadow installed packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from videossr.build.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
