"""The FSDP preset: checked on CPU as far as Lightning allows (it refuses FSDP on CPU); trained on a GPU."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONFIGS, cli, run_dirs
from jsonargparse import ArgumentParser
from lightning.pytorch.plugins.precision import FSDPPrecision
from lightning.pytorch.strategies import FSDPStrategy, Strategy
from torch.distributed.fsdp import ShardingStrategy
from torch.distributed.fsdp.wrap import ModuleWrapPolicy

from project.nets import MLP, ResNet, SimpleCNN

FSDP = CONFIGS / "presets" / "fsdp.yaml"
NETS = [
    ResNet(depth=18, small_input=True, width=8),
    ResNet(depth=50, small_input=True, width=8),
    SimpleCNN(channels=[4, 8, 8]),
    MLP(hidden=[16, 16]),
]


def preset_strategy(sharding_strategy: str | None = None) -> FSDPStrategy:
    """The strategy object, built from the preset's YAML by the parser LightningCLI uses."""
    parser = ArgumentParser()
    parser.add_argument("--strategy", type=Strategy | str)
    strategy = yaml.safe_load(FSDP.read_text())["trainer"]["strategy"]
    if sharding_strategy is not None:
        strategy["init_args"]["sharding_strategy"] = sharding_strategy
    cfg = parser.parse_object({"strategy": strategy})
    return parser.instantiate_classes(cfg).strategy


def wrapped(policy: ModuleWrapPolicy, net: torch.nn.Module) -> list[torch.nn.Module]:
    return [
        m for m in net.modules() if policy._module_classes and isinstance(m, tuple(policy._module_classes))
    ]


def test_preset_builds_fsdp_strategy_whose_policies_pick_each_nets_blocks() -> None:
    strategy = preset_strategy()
    assert isinstance(strategy, FSDPStrategy)
    assert strategy.sharding_strategy == ShardingStrategy.FULL_SHARD
    assert strategy._state_dict_type == "full"
    wrap = strategy.kwargs["auto_wrap_policy"]
    recompute = strategy._activation_checkpointing_kwargs["auto_wrap_policy"]
    for net in NETS:
        # Every block, and nothing else (stems, heads and shortcuts stay in their parent's unit).
        assert wrapped(wrap, net) == list(net.blocks), type(net).__name__
        assert wrapped(recompute, net) == list(net.blocks), type(net).__name__


@pytest.mark.parametrize("choice", ["FULL_SHARD", "SHARD_GRAD_OP", "HYBRID_SHARD", "NO_SHARD"])
def test_every_sharding_strategy_of_the_guide_is_accepted(choice: str) -> None:
    assert preset_strategy(choice).sharding_strategy == ShardingStrategy[choice]


def test_preset_precision_is_bf16_mixed_with_fp32_master_weights() -> None:
    precision = yaml.safe_load(FSDP.read_text())["trainer"]["precision"]
    config = FSDPPrecision(precision).mixed_precision_config
    assert (config.param_dtype, config.reduce_dtype, config.buffer_dtype) == (torch.bfloat16,) * 3


def test_preset_stacks_on_an_example_config(run_root: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli(
            "fit",
            "--config",
            str(CONFIGS / "digits.yaml"),
            "--config",
            str(FSDP),
            "--print_config",
            root=run_root,
        )
    assert exit_.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["strategy"]["class_path"].endswith("FSDPStrategy")
    assert printed["trainer"]["gradient_clip_val"] == 1.0


def gpu_cli(*args: str, root: Path) -> None:
    from project.cli import cli_main

    quiet = ["--trainer.accelerator=gpu", "--trainer.devices=1"]
    cli_main([*args, f"--run.root={root}", *quiet])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="FSDP needs a CUDA device")
def test_resnet18_trains_under_fsdp_bf16_with_clipping_and_resumes(run_root: Path) -> None:
    net = {"class_path": "ResNet", "init_args": {"depth": 18, "in_channels": 1, "small_input": True}}
    args = [
        "--config", str(CONFIGS / "digits.yaml"), "--config", str(FSDP), f"--model.net={json.dumps(net)}",
        "--trainer.limit_train_batches=10", "--trainer.limit_val_batches=2", "--run.test_after_fit=false",
    ]  # fmt: skip
    gpu_cli("fit", *args, "--trainer.max_epochs=1", root=run_root)
    (run,) = run_dirs(run_root)
    gpu_cli("fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=2", root=run_root)
    assert run_dirs(run_root) == [run]
    info = json.loads((run / "run_info.json").read_text())
    assert info["status"] == "finished" and info["global_step"] == 20
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["trainer"]["precision"] == "bf16-mixed" and saved["trainer"]["gradient_clip_val"] == 1.0
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 2
    assert not any("_fsdp_wrapped_module" in key for key in state["state_dict"]), "a full, plain state dict"
