"""The LitServe API of a run: ``POST /predict`` with an image file or a JSON batch of input tensors.

Loaded in ``setup`` (in LitServe's worker process), never at import (LitServe#321). A body the model cannot
take gets a 4xx with a message (``HTTPException``); LitServe turns anything else into a 500.
"""

import io
from typing import Any

import litserve as ls
import torch
from fastapi import HTTPException

MAX_BATCH = 256  # samples per JSON request: bounds the memory one request can take


class RunClassifierAPI(ls.LitAPI):
    """Class names and probabilities from a run's exported model (or its checkpoint)."""

    def __init__(self, config: str, ckpt_path: str = "best", source: str = "auto") -> None:
        """Remember where the model is; ``setup`` loads it.

        Args:
            config: The run's ``config.yaml``.
            ckpt_path: Checkpoint used when serving from the checkpoint (``best``, ``last`` or a file).
            source: ``onnx`` (``RUN/export/model.onnx`` on onnxruntime), ``pt2`` (``RUN/export/model.pt2``),
                ``checkpoint`` (the eager net), or ``auto``: ``onnx`` when exported, else ``checkpoint``.
        """
        super().__init__()
        self.config, self.ckpt_path, self.source = config, ckpt_path, source

    def setup(self, device: str) -> None:
        from project.serve.model_source import load_model

        loaded = load_model(self.config, self.ckpt_path, self.source, device)
        self.run_model, self.input_shape = loaded.run, loaded.input_shape
        self.classes, self.mode, self.transforms = loaded.classes, loaded.image_mode, loaded.transforms
        self.device = device

    # `request` stays unannotated: LitServe then parses the body (JSON or form) itself and passes the result.
    def decode_request(self, request, **kwargs: Any) -> torch.Tensor:  # noqa: ANN001
        if hasattr(request, "getlist"):  # a multipart form (LitServe passes starlette's FormData)
            upload = request.get("file") or request.get("image")
            if upload is None or not hasattr(upload, "file"):
                raise HTTPException(422, "multipart body: send the image as the form field 'file'")
            return self.image(upload.file.read(), getattr(upload, "filename", None) or "file")
        if not isinstance(request, dict) or "inputs" not in request:
            raise HTTPException(422, 'JSON body: expected {"inputs": [[...]]}, a sample or a batch of them')
        try:
            x = torch.tensor(request["inputs"], dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as err:
            raise HTTPException(422, f"inputs: not a rectangular array of numbers ({err})") from None
        if x.dim() == len(self.input_shape):
            x = x[None]
        if tuple(x.shape[1:]) != tuple(self.input_shape) or not 1 <= len(x) <= MAX_BATCH:
            raise HTTPException(
                422,
                f"inputs: shape {list(x.shape)}; expected {list(self.input_shape)} or "
                f"[N, {', '.join(map(str, self.input_shape))}] with 1 <= N <= {MAX_BATCH}",
            )
        if not torch.isfinite(x).all():
            raise HTTPException(422, "inputs: contains NaN or infinite values")
        return x

    def image(self, data: bytes, name: str) -> torch.Tensor:
        """An uploaded image file as a batch of one, read like the run's evaluation images."""
        from PIL import Image, UnidentifiedImageError

        from project.data.predict_files import image_tensor

        if self.mode is None:
            raise HTTPException(422, 'this run\'s data are not images: send {"inputs": ...} as JSON')
        try:
            with Image.open(io.BytesIO(data)) as image:
                x = image_tensor(image, self.mode, self.transforms)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise HTTPException(415, f"{name}: not a readable image ({type(err).__name__})") from None
        if tuple(x.shape) != tuple(self.input_shape):
            raise HTTPException(
                422,
                f"{name}: the image gives input {list(x.shape)}; the model takes {list(self.input_shape)}",
            )
        return x[None]

    def predict(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        with torch.no_grad():
            return self.run_model(x).float().softmax(dim=-1)

    def encode_response(self, output: torch.Tensor, **kwargs: Any) -> dict:
        names = self.classes or [str(k) for k in range(output.shape[-1])]
        return {
            "results": [
                {"class": names[int(row.argmax())], "probabilities": dict(zip(names, row.tolist()))}
                for row in output
            ]
        }
