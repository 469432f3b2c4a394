"""Restore pixelated regions of real screenshots: ``depix.restore(...)`` and ``depix-restore``.

``depix.restore`` is both this package and the function users call: the module is made
callable (it forwards to ``depix.restore.api.restore``), so ``depix.restore(path)`` works
whether or not the package was imported before, and nothing heavy (torch) is imported until
the first call.
"""

from __future__ import annotations

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from depix.restore.api import restore

        return restore(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
