"""LightningCLI with run directories, resume from a run's config, default callbacks and loggers."""

import contextlib
import random
import shutil
import sys
from dataclasses import replace
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import Callback
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.rank_zero import rank_zero_info

# Imported for their side effect: their classes resolve by short name (`class_path: ResNet`).
import project.data
import project.evaluation
import project.loggers
import project.nets
import project.optim  # noqa: F401
from project.callbacks.ema import refuse_stale_batch_norm, refuse_weight_averaging_combinations
from project.cli.argv import CommandLine, scan
from project.cli.callback_states import check_unique_states
from project.cli.checks_after import check_instantiated
from project.cli.checks_before import check_ckpt_path, check_trainer
from project.cli.class_restarts import dump_for_print, parse_with_class_restarts
from project.cli.config_upgrade import upgrade_checkpoint_entries
from project.cli.extra_commands import EXTRA_HELP
from project.cli.known_warnings import expect_own_checkpoints
from project.cli.mount_keys import mounted_classes, with_mount_key
from project.cli.parser import TemplateArgumentParser
from project.cli.trainer_errors import trainer_errors
from project.config_tree import short_name
from project.data.base import BaseDataModule
from project.model.module import SupervisedModule
from project.optim.schedule_free import refuse_schedule
from project.run.callback_groups import CheckpointOptions, EarlyStoppingOptions
from project.run.default_callbacks import default_callbacks, finish_trainer
from project.run.loggers import point_loggers_at_run, start_tracking
from project.run.no_profiler import NoProfiler
from project.run.options import RunOptions
from project.run.ranks import is_lightning_child, rank_zero_first, shared_value
from project.run.resolve import continue_requeued, resolve
from project.run.run_dir import RunDir, is_global_zero, new_run_dir
from project.run.trainer import Trainer
from project.sweep.trial_link import join_study


class TemplateCLI(LightningCLI):
    """LightningCLI whose runs live in run directories (see ``project.run``); hooks only."""

    def __init__(
        self, args: ArgsType = None, run: bool = True, command_line: CommandLine | None = None
    ) -> None:
        """Parse, check, build and run.

        Args:
            args: The arguments (``sys.argv[1:]`` when ``None``), or a parsed config.
            run: Run the subcommand (``False``: only build the classes).
            command_line: ``args`` as ``project.cli.argv.scan`` read them (scanned here when not given).
        """
        self.run_dir: RunDir | None = None
        self.created_run_dir = False
        self.resuming = False
        self.named_callbacks: list[tuple[str, Callback]] = []
        if command_line is None and not isinstance(args, dict | Namespace):
            command_line = scan(list(sys.argv[1:] if args is None else args))
        self.command_line = command_line
        super().__init__(
            SupervisedModule,
            BaseDataModule,
            trainer_class=Trainer,  # writes checkpoints with schedule-free optimizers in eval mode
            subclass_mode_data=True,
            # The run dir, not the first logger's log_dir, gets config.yaml (see `write_config`).
            save_config_callback=None,
            auto_configure_optimizers=False,
            parser_class=TemplateArgumentParser,  # short errors, no abbreviated options
            parser_kwargs={"epilog": EXTRA_HELP},
            args=args,
            run=run,
        )

    def subcommands(self) -> dict[str, set[str]]:
        """Only the subcommand asked for gets a parser (each introspects every class signature: about 0.1 s, a
        third of ``fit --help``); all of them when the command line does not start with one."""
        everything = LightningCLI.subcommands()
        line = self.command_line
        chosen = line.subcommand if line is not None and line.args[:1] == [line.subcommand] else None
        return {chosen: everything[chosen]} if chosen in everything else everything

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_class_arguments(RunOptions, "run")
        parser.add_class_arguments(CheckpointOptions, "checkpoint")
        parser.add_argument("--early_stopping", type=EarlyStoppingOptions | None, default=None)

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        if isinstance(args, dict | Namespace):
            super().parse_arguments(parser, args)
        else:  # a class switched on the command line or by a later config starts from its own defaults
            line = self.command_line
            self.config = parse_with_class_restarts(parser, line, self._parser)
            if line.print_config is not None:  # what jsonargparse's --print_config would print, restarted
                sys.stdout.write(dump_for_print(self._parser(line.subcommand), self.config, line))
                sys.exit(0)
        cfg = self.config.get(self.config.get("subcommand") or "", self.config)
        upgrade_checkpoint_entries(cfg)
        if self.config.get("subcommand") in ("fit", None):
            refuse_weight_averaging_combinations(cfg)
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
        resolved = resolve(self.subcommand, [str(p) for p in cfg.get("config") or []], cfg.get("ckpt_path"))
        check_ckpt_path(self.subcommand, cfg, has_run_dir=resolved.run is not None)
        if resolved.run is None:
            new_run = new_run_dir(options, short_name(cfg.data), net_name(cfg.model.net))
            # A requeued SLURM job or a restarted torchrun group gets its first attempt's run dir back (ddp
            # children of a new run also find the run_info.json their rank 0 just wrote: not a requeue).
            requeued = not is_lightning_child() and new_run.info.is_file()
            resolved = (
                continue_requeued(self.subcommand, resolved, new_run)
                if requeued
                else replace(resolved, run=new_run)
            )
            self.created_run_dir = is_global_zero() and not requeued
        self.run_dir, self.resuming, cfg.ckpt_path = resolved.run, resolved.resuming, resolved.ckpt_path
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

    # --- building the classes: default callbacks go in with the Trainer, then the last checks -------------

    def instantiate_classes(self) -> None:
        try:
            with rank_zero_first("instantiate", self.config[self.subcommand].run.root):
                super().instantiate_classes()
            ckpt_path = self.config[self.subcommand].get("ckpt_path")
            names = {id(callback): name for name, callback in self.named_callbacks}
            check_instantiated(self.subcommand, self.model, self.datamodule, self.trainer, ckpt_path, names)
            if self.subcommand == "fit":
                refuse_stale_batch_norm(self.trainer, self.model)
        except BaseException as exc:
            self.remove_unused_run_dir()
            keyed = with_mount_key(exc, mounted_classes(self.config.get(self.subcommand or "", self.config)))
            if keyed is not None:
                raise keyed from exc
            raise

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        init = self.config_init[self.subcommand] if self.subcommand else self.config_init
        trainer_args = init.get("trainer") or {}
        configured = trainer_args.get("callbacks") or []
        configured = configured if isinstance(configured, list) else [configured]
        ours = default_callbacks(
            self.subcommand, {**trainer_args, "callbacks": configured}, self.run_dir,
            init.get("checkpoint"), init.get("early_stopping"),
        )  # fmt: skip
        named = [(f"trainer.callbacks[{i}]", c) for i, c in enumerate(configured)]
        # Before Lightning's own check in Trainer.__init__, whose RuntimeError names neither entry.
        check_unique_states([*ours, *named])
        self.named_callbacks = [*named, *ours]
        if trainer_args.get("profiler") is None:  # the default costs ~2 us per hook call (see NoProfiler)
            kwargs["profiler"] = NoProfiler()
        with trainer_errors(dict(trainer_args)):  # Lightning refuses devices, accelerators, strategies itself
            return super().instantiate_trainer(**kwargs, callbacks=[c for _, c in self.named_callbacks])

    def after_instantiate_classes(self) -> None:
        finish_trainer(self.trainer, self.run_dir)
        if self.subcommand == "fit":
            join_study(self.trainer, self.run_dir)  # only when `main.py tune` started this run as a trial

    def remove_unused_run_dir(self) -> None:
        """A command that fails before training leaves no run dir behind."""
        if self.created_run_dir and self.run_dir is not None and self.run_dir.path.is_dir():
            shutil.rmtree(self.run_dir.path, ignore_errors=True)
            for folder in (self.run_dir.path.parent, self.run_dir.path.parent.parent):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # <root>/<data>, then <root>, when empty

    # --- running ---------------------------------------------------------------------------------------

    def before_fit(self) -> None:
        if self.resuming:
            rank_zero_info(f"Resuming from {self.config.fit.ckpt_path}")
            expect_own_checkpoints(self.run_dir.checkpoints)
        if is_global_zero():
            start_tracking(self.trainer, self.write_config(), self.resuming)

    def write_config(self) -> dict[str, Any]:
        """Writes the run dir's ``config.yaml`` and returns it as a dict (the loggers' hyperparameters): one
        dump serves both, a dump of the whole config takes ~0.1 s."""
        import yaml

        text = self._parser(self.subcommand).dump(self.saved_config, skip_none=False)
        self.run_dir.config.write_text(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    def after_fit(self) -> None:
        options = RunOptions(**self.config.fit.run.as_dict())
        if not options.test_after_fit or self.trainer.interrupted:
            return
        best = dict(self.named_callbacks).get("checkpoint") or self.trainer.checkpoint_callback
        # The file itself, not "best": with several ModelCheckpoints Lightning warns that it takes the first.
        ckpt = (getattr(best, "best_model_path", "") or getattr(best, "last_model_path", "")) or None
        if ckpt is None and (last := self.run_dir.last_checkpoint).is_file():
            ckpt = str(last)
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt)


def net_name(net: Namespace) -> str:
    """``resnet18``, ``simplecnn``...: the net's class name, with the depth for ResNets."""
    name = short_name(net)
    depth = (net.get("init_args") or Namespace()).get("depth")
    return f"{name}{depth}" if depth else name
