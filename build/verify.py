"""Check a built dataset folder before anyone trains or evaluates on it: ``python build/verify.py --help``.

The checks live in :mod:`videossr.build.checks`; ``verify_repo(folder)`` runs them from Python.
"""

import sys

from videossr.build.checks.cli import main

if __name__ == "__main__":
    sys.exit(main())
