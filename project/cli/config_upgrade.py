"""A ``config.yaml`` written before the ``checkpoint:`` group existed still resumes.

Such a config lists the best checkpoint and the ``last.ckpt`` writer as ModelCheckpoint entries of
``trainer.callbacks`` (``filename: best`` with a monitor, ``filename: last`` without). They are moved into the
``checkpoint:`` group (monitor, mode, top k, period) and dropped from the list, and the command says so; the
run's next ``config.yaml`` is written in the new form. Checkpoint states keep their keys, so the best-k
tracking continues.
"""

from jsonargparse import Namespace
from lightning.pytorch.utilities.rank_zero import rank_zero_info

MODEL_CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"
MOVED = ("monitor", "mode", "save_top_k", "every_n_epochs", "filename")


def upgrade_checkpoint_entries(cfg: Namespace) -> None:
    """Move the old ``best``/``last`` ModelCheckpoint entries of ``cfg.trainer.callbacks`` (see above)."""
    callbacks = cfg.trainer.get("callbacks")
    if not isinstance(callbacks, list):
        return
    kept = []
    for entry in callbacks:
        args = entry.get("init_args") or Namespace() if isinstance(entry, Namespace) else Namespace()
        is_checkpoint = isinstance(entry, Namespace) and entry.get("class_path") == MODEL_CHECKPOINT
        if is_checkpoint and args.get("filename") == "last" and args.get("monitor") is None:
            continue  # the run's own last.ckpt writer does this
        if is_checkpoint and args.get("filename") == "best" and args.get("monitor"):
            for key in MOVED:
                if args.get(key) is not None:
                    cfg.checkpoint[key] = args[key]
            continue
        kept.append(entry)
    if len(kept) != len(callbacks):
        cfg.trainer.callbacks = kept
        rank_zero_info(
            "config: the best/last ModelCheckpoint entries of trainer.callbacks are now the checkpoint: "
            f"group (checkpoint.monitor={cfg.checkpoint.monitor}, checkpoint.mode={cfg.checkpoint.mode}); "
            "the run's config.yaml is rewritten that way."
        )
