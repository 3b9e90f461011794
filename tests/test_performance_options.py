"""Memory and speed options of the model: gradient checkpointing, channels-last, float32 matmul precision."""

import copy

import pytest
import torch
from torch import nn

from project.model.module import SupervisedModule
from project.nets import MLP, ResNet, SimpleCNN


def optimizer(params: object) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.1)  # type: ignore[arg-type]


def counting(forward: object, count: list[int]) -> object:
    def counted(*args: object, **kwargs: object) -> object:
        count[0] += 1
        return forward(*args, **kwargs)  # type: ignore[operator]

    return counted


@pytest.mark.parametrize(
    ("net", "shape"),
    [
        (ResNet(depth=18, in_channels=1, small_input=True, width=8), (4, 1, 8, 8)),
        (SimpleCNN(channels=[4, 8]), (4, 1, 8, 8)),
        (MLP(hidden=[16, 16]), (4, 64)),
    ],
)
def test_gradient_checkpointing_recomputes_blocks_and_gives_the_same_gradients(
    net: nn.Module, shape: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(shape), torch.randint(0, 10, (shape[0],))
    plain = SupervisedModule(copy.deepcopy(net), optimizer)
    recomputing = SupervisedModule(copy.deepcopy(net), optimizer, gradient_checkpointing=True)
    grads, calls = [], []
    for module in (plain, recomputing):
        count = [0]
        for block in module.net.blocks:
            # Wrapping `forward` counts recomputations too (module hooks do not fire in them).
            block.forward = counting(block.forward, count)
        module.train()
        module.loss(module(x), y).backward()
        grads.append({n: p.grad for n, p in module.named_parameters()})
        calls.append(count[0])
    blocks = len(plain.net.blocks)
    assert calls == [blocks, 2 * blocks], "each block runs again in backward"
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-6, msg=name)


def test_gradient_checkpointing_on_a_net_without_the_attribute_names_the_key() -> None:
    with pytest.raises(ValueError, match="model.gradient_checkpointing"):
        SupervisedModule(nn.Linear(4, 2), optimizer, gradient_checkpointing=True)


def test_channels_last_converts_weights_and_inputs_and_keeps_outputs() -> None:
    torch.manual_seed(0)
    net = SimpleCNN(in_channels=3, channels=[8, 16])
    plain = SupervisedModule(copy.deepcopy(net), optimizer).eval()
    fast = SupervisedModule(copy.deepcopy(net), optimizer, channels_last=True).eval()
    fast.setup("fit")
    conv = fast.net.blocks[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(fast(x), plain(x), rtol=1e-5, atol=1e-5)
    assert fast.state_dict().keys() == plain.state_dict().keys()


def test_float32_matmul_precision_is_set_from_the_model_options() -> None:
    before = torch.get_float32_matmul_precision()
    try:
        SupervisedModule(MLP(), optimizer, float32_matmul_precision="high")
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)
