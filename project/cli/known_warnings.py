"""Warnings a default run would print although nothing is wrong: each is silenced narrowly, with the reason.

A filter names the message and the module that warns, never a whole category, so the same words from
another place, or any other warning, still reach the user. Everything a default run printed that was our own
doing is fixed at its cause instead (``after_fit`` names the best checkpoint's file, for example).
"""

import logging
import re
import warnings
from pathlib import Path


class _DropMessage(logging.Filter):
    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.start)


def ignore_harmless_warnings() -> None:
    """Install the filters (every rank runs this, since Lightning's ddp launcher re-runs ``main.py``)."""
    # torch 2.13 deprecated constructing `LeafSpec`; Lightning 2.6's private copy of `tree_flatten` still
    # does, once per training and evaluation loop. The results are unchanged (torch keeps the class working
    # through the deprecation period); the fix belongs in Lightning's `utilities/_pytree.py`.
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )
    # Under DDP, Lightning warns that a DistributedSampler pads test/validation shards with repeated samples.
    # Our evaluators drop the padding by sample index before computing metrics or writing predictions
    # (`project/evaluation/predictions.py`), so every sample counts exactly once.
    warnings.filterwarnings(
        "ignore",
        message=r"Using `DistributedSampler` with the dataloaders\. During `trainer\.(test|validate|predict)",
        module=r"lightning\.pytorch\.trainer\.connectors\.data_connector",
    )
    # An advertisement for a hosted logger that Lightning 2.6 prints (through `rank_zero_info`) whenever that
    # logger is not installed: not about this run.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
        _DropMessage("💡 Tip: For seamless cloud logging")
    )


def expect_own_checkpoints(checkpoints: Path) -> None:
    """A resumed run writes on into its own ``checkpoints`` folder: Lightning's warning that the folder
    "exists and is not empty" is about exactly the files the run is resuming from (a new run always gets a
    new, empty folder). The filter names this folder's path, narrower than any module; a ModelCheckpoint you
    point at another folder still warns."""
    warnings.filterwarnings(
        "ignore", message=rf"Checkpoint directory {re.escape(str(checkpoints))} exists and is not empty"
    )
