"""``python -m videossr.build.checks FOLDER``: the same as ``python build/verify.py FOLDER``."""

import sys

from .cli import main

sys.exit(main())
