"""A package's names imported from their modules on first use (PEP 562), so that importing one module of the
package (``processors.histograms`` for the outputs, ``fitting.systematics`` for cabinetry.yml) does not import the
others and their dependencies (coffea, scipy). It imports nothing of the project, so that any package may use it.

Example:
    >>> __getattr__ = exports("json", {"JSONDecodeError": "decoder"})
    >>> __getattr__("JSONDecodeError").__name__
    'JSONDecodeError'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package`` that imports each name of ``where`` from its module
    ``package.<where[name]>`` when first asked for, and keeps it in the package."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        if package in sys.modules:
            setattr(sys.modules[package], name, value)
        return value

    return __getattr__
