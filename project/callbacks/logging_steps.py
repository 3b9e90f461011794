"""Which training steps log: the only steps on which the template reads device tensors on the host.

Lightning sends step metrics to the loggers when ``(optimizer steps done + 1) % log_every_n_steps == 0``
(``_LoggerConnector.should_update_logs``). On those steps the host reads values anyway; on all others the
template's hooks leave the device alone, so that on a GPU the CPU keeps queueing kernels ahead.
"""

from lightning.pytorch import Trainer


def logs_next_step(trainer: Trainer) -> bool:
    """Before a training step (``training_step``, ``on_train_batch_start``): whether that step logs."""
    every = trainer.log_every_n_steps
    return bool(trainer.fast_dev_run) or (every > 0 and (trainer.global_step + 1) % every == 0)


def logs_this_step(trainer: Trainer) -> bool:
    """After an optimizer step (``on_train_batch_end`` at the end of an accumulation window): whether the
    step that just ran logs."""
    every = trainer.log_every_n_steps
    return bool(trainer.fast_dev_run) or (every > 0 and trainer.global_step % every == 0)


def at_optimizer_step_boundary(trainer: Trainer, batch_idx: int) -> bool:
    """True after a batch that ended with an optimizer step (not inside an accumulation window)."""
    accumulate = trainer.accumulate_grad_batches
    last = isinstance(trainer.num_training_batches, int) and batch_idx + 1 >= trainer.num_training_batches
    return (batch_idx + 1) % accumulate == 0 or last
