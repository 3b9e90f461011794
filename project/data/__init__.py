"""Built-in DataModules and transforms; a user's own DataModule is named in YAML by its import path."""

from project.data.base import BaseDataModule
from project.data.digits import Digits
from project.data.image_folder import ImageFolder
from project.data.synthetic import Synthetic
from project.data.transforms import Normalize, RandomCrop, RandomHorizontalFlip, Resize

__all__ = [
    "BaseDataModule",
    "Digits",
    "ImageFolder",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Resize",
    "Synthetic",
]
