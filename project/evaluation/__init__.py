"""Evaluators: torchmetrics state per stage, results logged as ``val/<name>`` and ``test/<name>``."""

from project.evaluation.classification import ClassificationEvaluator
from project.evaluation.evaluator import Evaluator
from project.evaluation.regression import RegressionEvaluator

__all__ = ["ClassificationEvaluator", "Evaluator", "RegressionEvaluator"]
