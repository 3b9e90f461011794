"""The command line: LightningCLI with run directories, resume from a run's config, and default loggers.

``python main.py fit|validate|test|predict --config CONFIG.yaml [--key=value ...]``
"""

import contextlib
import random
import shutil
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.rank_zero import rank_zero_info

# Imported for their side effect: their classes resolve by short name (`class_path: ResNet`).
import project.data
import project.evaluation
import project.loggers
import project.nets
import project.optim  # noqa: F401
from project.argument_parser import TemplateArgumentParser
from project.callbacks.learning_rate import LearningRateLogger
from project.callbacks.progress import use_sparse_default_bar
from project.callbacks.run_info import RunInfoWriter
from project.class_switch import parse_with_class_restarts
from project.config_checks import check_ckpt_path, check_config_files, check_trainer
from project.config_tree import short_name
from project.data.base import BaseDataModule
from project.errors import take_debug_flag, user_errors_exit_2
from project.launch import is_lightning_child, newest_checkpoint, rank_zero_first, shared_value
from project.loggers.run_loggers import point_loggers_at_run, start_tracking
from project.module import SupervisedModule
from project.optim.schedule_free import refuse_schedule
from project.run_dir import RunDir, RunOptions, is_global_zero, new_run_dir
from project.setup_checks import check_instantiated
from project.sweep.trial_link import join_study
from project.trainer import Trainer
from project.training_control import add_training_control, ensure_last_checkpoint

TUNE_HELP = "hyperparameter search: main.py tune --config X.yaml --sweep configs/sweeps/X.yaml (tune --help)"


class TemplateCLI(LightningCLI):
    """LightningCLI whose runs live in run directories (see ``project.run_dir``)."""

    def __init__(self, args: ArgsType = None, run: bool = True) -> None:
        self.run_dir: RunDir | None = None
        self.created_run_dir = False
        self.resuming = False
        super().__init__(
            SupervisedModule,
            BaseDataModule,
            trainer_class=Trainer,  # writes checkpoints with schedule-free optimizers in eval mode
            subclass_mode_data=True,
            # The run dir, not the first logger's log_dir, gets config.yaml (see `write_config`).
            save_config_callback=None,
            auto_configure_optimizers=False,
            parser_class=TemplateArgumentParser,  # short errors, no abbreviated options
            parser_kwargs={"epilog": TUNE_HELP},  # `tune` is dispatched before LightningCLI (see cli_main)
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_class_arguments(RunOptions, "run")

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        if isinstance(args, dict | Namespace):
            super().parse_arguments(parser, args)
        else:  # a class switched on the command line or by a later config starts from its own defaults
            self.config = parse_with_class_restarts(parser, args, self._parser)
        cfg = self.config.get(self.config.get("subcommand") or "", self.config)
        check_trainer(cfg.trainer)
        if cfg.get("ckpt_path") not in (None, "best", "last"):  # before LightningCLI reads it
            check_ckpt_path(self.config.get("subcommand"), cfg, has_run_dir=True)
        if cfg.get("seed_everything") in (True, None):
            # Lightning would take 0 for `true`; draw a seed instead (rank 0's, on every rank) and record it.
            draw = lambda: str(random.randint(0, 2**31 - 1))  # noqa: E731
            cfg.seed_everything = int(shared_value("seed", draw, cfg.run.root))

    # --- before the classes exist: choose the run dir and point every output at it ---------------------

    def before_instantiate_classes(self) -> None:
        cfg = self.config[self.subcommand]
        if self.subcommand == "fit":
            refuse_schedule(cfg.model.optimizer.get("class_path"), cfg.model.get("scheduler"))
        options = RunOptions(**cfg.run.as_dict())
        source = next(
            (run for path in reversed(cfg.get("config") or []) if (run := RunDir.containing(str(path)))), None
        )
        ckpt_path = cfg.get("ckpt_path")
        if self.subcommand == "fit":
            if source is not None and ckpt_path is None:
                self.run_dir = source
                if source.last_checkpoint.is_file():
                    cfg.ckpt_path = str(source.last_checkpoint)
                    self.resuming = True
        else:
            if ckpt_path in ("best", "last") and source is not None:
                cfg.ckpt_path = str(
                    source.best_checkpoint() if ckpt_path == "best" else source.last_checkpoint
                )
            elif ckpt_path not in (None, "best", "last", "hpc", "registry"):
                source = RunDir.containing(ckpt_path) or source
            self.run_dir = source
        check_ckpt_path(self.subcommand, cfg, has_run_dir=source is not None)
        if self.run_dir is None:
            self.run_dir = new_run_dir(options, short_name(cfg.data), net_name(cfg.model.net))
            self.created_run_dir = is_global_zero()
            if self.subcommand == "fit" and self.run_dir.info.is_file() and not is_lightning_child():
                # A requeued SLURM job or a restarted torchrun group got its first attempt's run dir back.
                self.created_run_dir = False
                if (ckpt := newest_checkpoint(self.run_dir.path)) is not None:
                    cfg.ckpt_path, self.resuming = str(ckpt), True
        # What config.yaml will hold: enough to resume; run-dependent paths are filled in on every start.
        self.saved_config = cfg.clone()
        self.saved_config.ckpt_path = None
        self.point_outputs_at_run_dir(cfg, options)

    def point_outputs_at_run_dir(self, cfg: Namespace, options: RunOptions) -> None:
        """Fill in the run-dependent paths (kept out of the saved config, which is written before this)."""
        run = self.run_dir
        cfg.trainer.default_root_dir = str(run.path)
        tags = {"data": short_name(cfg.data), "net": net_name(cfg.model.net)}
        point_loggers_at_run(cfg.trainer, run, options.root, tags)

    # --- after the classes exist: last checks, then create the run dir's contents ------------------------

    def instantiate_classes(self) -> None:
        try:
            with rank_zero_first("instantiate", self.config[self.subcommand].run.root):
                super().instantiate_classes()
            ckpt_path = self.config[self.subcommand].get("ckpt_path")
            check_instantiated(self.subcommand, self.model, self.datamodule, self.trainer, ckpt_path)
        except BaseException:
            self.remove_unused_run_dir()
            raise

    def after_instantiate_classes(self) -> None:
        use_sparse_default_bar(self.trainer, self.config[self.subcommand].trainer.get("callbacks"))
        checkpoints = [c for c in self.trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)]
        for callback in checkpoints:
            if callback.dirpath is None:
                callback.dirpath = str(self.run_dir.checkpoints)
        if checkpoints:
            # Resuming a run always starts from checkpoints/last.ckpt, written after every epoch.
            ensure_last_checkpoint(self.trainer, self.run_dir)
        if self.subcommand == "fit":
            self.trainer.callbacks.append(RunInfoWriter(self.run_dir.info))
            add_training_control(self.trainer, self.run_dir)
            has_monitor = any(
                isinstance(c, LearningRateMonitor | LearningRateLogger) for c in self.trainer.callbacks
            )
            if self.trainer.loggers and not has_monitor:
                self.trainer.callbacks.append(LearningRateLogger())
            join_study(self.trainer, self.run_dir)  # only when `main.py tune` started this run as a trial

    def remove_unused_run_dir(self) -> None:
        """A command that fails before training leaves no run dir behind."""
        if self.created_run_dir and self.run_dir is not None and self.run_dir.path.is_dir():
            shutil.rmtree(self.run_dir.path, ignore_errors=True)
            for folder in (self.run_dir.path.parent, self.run_dir.path.parent.parent):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # <root>/<data>, then <root>, when empty

    def before_fit(self) -> None:
        if self.resuming:
            rank_zero_info(f"Resuming from {self.config.fit.ckpt_path}")
        if is_global_zero():
            self.write_config()
            start_tracking(self.trainer, self.config_dump_for_run(), self.resuming)

    def config_dump_for_run(self) -> dict[str, Any]:
        import yaml

        return yaml.safe_load(self.dump_config_text())

    def dump_config_text(self) -> str:
        return self._parser(self.subcommand).dump(self.saved_config, skip_none=False)

    def write_config(self) -> None:
        self.run_dir.config.write_text(self.dump_config_text())

    def after_fit(self) -> None:
        options = RunOptions(**self.config.fit.run.as_dict())
        if not options.test_after_fit or self.trainer.interrupted:
            return
        best = self.trainer.checkpoint_callback
        ckpt = "best" if best is not None and getattr(best, "best_model_path", "") else None
        if ckpt is None and best is not None and best.last_model_path:
            ckpt = best.last_model_path
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt)


def net_name(net: Namespace) -> str:
    """``resnet18``, ``simplecnn``...: the net's class name, with the depth for ResNets."""
    name = short_name(net)
    depth = (net.get("init_args") or Namespace()).get("depth")
    return f"{name}{depth}" if depth else name


def cli_main(args: ArgsType = None) -> None:
    """Run the CLI; ``args`` replaces ``sys.argv[1:]`` (tests call ``cli_main(["fit", ...])``).

    User mistakes end with exit status 2 and one message (see ``project.errors``).
    """
    import sys

    if (sys.argv[1:] if args is None else list(args))[:1] == ["tune"]:
        from project.sweep.command import tune_main

        return tune_main(take_debug_flag(sys.argv[2:] if args is None else list(args)[1:]))
    if args is None:
        sys.argv[1:] = take_debug_flag(sys.argv[1:])
    elif isinstance(args, list):
        args = take_debug_flag(args)
    with user_errors_exit_2():
        check_config_files(args if isinstance(args, list) else sys.argv[1:])
        TemplateCLI(args=args)
