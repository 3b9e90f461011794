"""Gradient-norm clipping of a sharded (FSDP) model: the norm of the whole model, not of each shard.

Lightning refuses ``gradient_clip_algorithm="norm"`` under FSDP, since ``torch.nn.utils.clip_grad_norm_`` on a
rank's shard would clip by that shard's norm alone. The FSDP root's own ``clip_grad_norm_`` reduces the norm
across ranks first, and is what ``SupervisedModule.configure_gradient_clipping`` calls under FSDP.
"""

from lightning.pytorch import Trainer


def clip_sharded_grad_norm(trainer: Trainer, max_norm: float | None, algorithm: str | None) -> bool:
    """Clip the whole sharded model's gradient norm to ``max_norm`` under FSDP; False when not applicable.

    Must run on every rank (it is a collective): ``configure_gradient_clipping`` does.
    """
    if not max_norm:  # every optimizer step calls this: the common case first, before the import
        return False
    from lightning.pytorch.strategies import FSDPStrategy

    if algorithm not in (None, "norm") or not isinstance(trainer.strategy, FSDPStrategy):
        return False
    # The strategy's model is the FullyShardedDataParallel root that wraps the LightningModule.
    trainer.strategy.model.clip_grad_norm_(max_norm)
    return True
