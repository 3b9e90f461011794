"""The default profiler of a run: Lightning's ``PassThroughProfiler`` without its per-call cost.

Lightning wraps every hook call in ``trainer.profiler.profile(name)``: for each callback and each hook, about
90 times per training step with the template's callbacks. The default ``PassThroughProfiler`` records nothing,
yet its ``profile`` is a generator-based context manager costing about 2 us per call (0.2 us for a shared
``nullcontext``): some 0.15 ms per step, as much as a tiny model's whole step. Lightning 2.6.6 has no switch
for it (no upstream issue found); a configured profiler (``trainer.profiler: simple`` ...) is kept as it is.
"""

import contextlib

from lightning.pytorch.profilers import PassThroughProfiler

_NOTHING = contextlib.nullcontext()


class NoProfiler(PassThroughProfiler):
    """``PassThroughProfiler`` whose ``profile(name)`` is one shared no-op context manager."""

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:
        return _NOTHING
