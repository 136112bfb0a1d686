"""Packages that are also functions: ``hm.link([...])`` and ``import hashmatch.link``.

The facade promises ``hm.encode(...)``, ``hm.link(...)`` and ``hm.evaluate(...)``, while
``hashmatch.encode``, ``hashmatch.link`` and ``hashmatch.evaluate`` are stage packages
(modules) that must stay importable. Python's import system sets ``hashmatch.link`` to the
package whenever it is first imported, by anyone, so a function of that name in
``hashmatch/__init__.py`` would be replaced behind the user's back. Instead each of the
three modules calls :func:`make_callable` on itself: the module stays a module (attribute
access, ``from hashmatch.link import ...``, ``mock.patch`` paths all work), and calling it
runs the facade function, which is imported only at the first call (so
``import hashmatch.link`` on a coordinator does not pull in the encoder).
"""

from __future__ import annotations

import inspect
import sys
from importlib import import_module
from types import ModuleType
from typing import Any

__all__ = ["make_callable"]


class _CallableModule(ModuleType):
    """A module whose call runs the function named by its ``__facade__`` ("module:name")."""

    __facade__: str

    def _facade_function(self) -> Any:
        module, _, name = self.__facade__.partition(":")
        return getattr(import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._facade_function()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:  # what help() and IDEs show for the call
        return inspect.signature(self._facade_function())


def make_callable(module_name: str, target: str) -> None:
    """Make the already-imported module ``module_name`` callable as ``target``
    (``"package.module:function"``, imported at the first call)."""
    module = sys.modules[module_name]
    module.__facade__ = target  # type: ignore[attr-defined]
    module.__class__ = _CallableModule
