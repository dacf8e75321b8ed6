"""One module per benchmark: its spec and adapter, registered with ``@register_benchmark``.

Every module of this package is imported here, so adding a benchmark is adding a module (plus its fixture
under ``tests/fixtures/benchmarks/``).
"""

from __future__ import annotations

import importlib
import pkgutil

_HELPERS = {"base", "common"}

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _HELPERS:
        importlib.import_module(f"{__name__}.{_module.name}")
