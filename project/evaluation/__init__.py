"""Evaluators: torchmetrics state per stage, results logged as ``val/<name>`` and ``test/<name>``."""

from project.evaluation.classification import ClassificationEvaluator
from project.evaluation.evaluator import Evaluator

__all__ = ["ClassificationEvaluator", "Evaluator"]
