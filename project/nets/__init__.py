"""Built-in nets. Any other ``nn.Module`` is named in YAML by its import path."""

from project.nets.mlp import MLP
from project.nets.resnet import ResNet
from project.nets.simple_cnn import SimpleCNN

__all__ = ["MLP", "ResNet", "SimpleCNN"]
