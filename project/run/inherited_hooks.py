"""Per-batch callback hooks that nobody overrides are not called at all.

Lightning calls every hook of every callback on every batch (``_call_callback_hooks``), also the empty ones a
callback inherits from ``Callback``, and each call builds a profiler name from ``callback.state_key`` first
(``ModelCheckpoint`` formats a dict of its arguments there). With the template's dozen callbacks that is about
90 calls per training step for some 10 that do something, and half of what the template added to a step over a
bare Trainer: 880 Python and C calls per step before, 460 after (``tests/test_step_overhead.py``, Lightning
2.6.6). Lightning skips a hook whose attribute is not callable (``if callable(fn)`` in
``_call_callback_hooks``), so an instance attribute ``None`` for an inherited no-op hook removes its cost
without touching Lightning. Only the per-batch hooks, which nothing else calls (the checkpoint and set-up
hooks are called directly in places), and only for a run without a profiler: a configured profiler keeps
listing every hook. No upstream issue found on dispatching only overridden hooks.

The same goes for ``ModelCheckpoint.on_train_batch_end`` of a checkpoint that saves by epoch only (no
``every_n_train_steps``, no ``train_time_interval``, as both of the shipped ones): Lightning 2.6.6 runs about
25 calls there every step to find that it has nothing to save.
"""

from collections.abc import Iterable

from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint

BATCH_HOOKS = tuple(
    f"on_{stage}_batch_{when}"
    for stage in ("train", "validation", "test", "predict")
    for when in ("start", "end")
) + ("on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_before_zero_grad")


def skip_inherited_batch_hooks(callbacks: Iterable[Callback]) -> None:
    """Set each per-batch hook a callback inherits unchanged from ``Callback`` to ``None`` on the instance."""
    for callback in callbacks:
        for hook in BATCH_HOOKS:
            inherited = getattr(type(callback), hook, None) is getattr(Callback, hook)
            if inherited and hook not in vars(callback):
                setattr(callback, hook, None)


def skip_epoch_checkpoints_batch_end(callbacks: Iterable[Callback]) -> None:
    """Set ``on_train_batch_end`` to ``None`` on a ``ModelCheckpoint`` (not a subclass that overrides it) that
    saves neither every N training steps nor every time interval: there it returns without doing anything."""
    for callback in callbacks:
        if (
            isinstance(callback, ModelCheckpoint)
            and type(callback).on_train_batch_end is ModelCheckpoint.on_train_batch_end
            and getattr(callback, "_every_n_train_steps", 1) < 1
            and getattr(callback, "_train_time_interval", 1) is None
        ):
            callback.on_train_batch_end = None
