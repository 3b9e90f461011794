"""From a trained run to files other programs load: ``python main.py export --config RUN/config.yaml``.

``RUN/export/`` gets ``model.onnx`` (weights inside), ``model.pt2`` (``torch.export``) and ``export.json``;
both files are checked against the eager net on real batches of the run's data before they are kept.
"""
