"""``python main.py serve --config RUN/config.yaml [--host 127.0.0.1] [--port 8000] [--source auto]``."""

import json
from pathlib import Path
from typing import Literal

from jsonargparse import ArgumentParser

from project.errors import UserError


def serve(
    config: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    source: Literal["auto", "onnx", "pt2", "checkpoint"] = "auto",
    ckpt_path: str = "best",
    timeout: float = 30.0,
) -> None:
    """Serve a finished run: ``POST /predict``, ``GET /health``, ``GET /info`` (LitServe).

    ``/predict`` takes an image file (multipart form field ``file``), read with the run's eval transforms,
    or JSON ``{"inputs": [...]}`` with one input or a batch of them (after the eval transforms), and returns
    ``{"results": [{"class": name, "probabilities": {name: p, ...}}, ...]}``. ``/info`` returns the
    run's metrics, git commit and export parity.

    Args:
        config: The run's ``config.yaml`` (``RUN/config.yaml``).
        host: Interface to bind; ``127.0.0.1`` serves this machine only, ``0.0.0.0`` every network.
        port: TCP port.
        source: ``onnx`` or ``pt2`` (``RUN/export/``, see ``main.py export``), ``checkpoint`` (the eager
            net), or ``auto``: the ONNX export when there is one, else the checkpoint.
        ckpt_path: Checkpoint for ``source: checkpoint``: ``best``, ``last`` or a file.
        timeout: Seconds a request may wait for the model before it gets a 504.
    """
    import litserve as ls

    from project.export.trained_run import load_run
    from project.serve.api import RunClassifierAPI
    from project.serve.body_check import BodyCheck

    if not 0 < port < 65536:
        raise UserError(f"--port: {port} is not a TCP port (1-65535)")
    trained = load_run(config, ckpt_path)  # fails here, with a message, rather than in a worker
    api = RunClassifierAPI(config, ckpt_path, source)
    accelerator = "auto" if source == "checkpoint" else "cpu"
    server = ls.LitServer(
        api,
        accelerator=accelerator,
        timeout=timeout,
        model_metadata=run_metadata(trained.run.path, trained.checkpoint, source),
        middlewares=[(BodyCheck, {})],
    )
    server.run(host=host, port=port, generate_client_file=False, num_api_servers=1, log_level="warning")


def run_metadata(run: Path, checkpoint: Path, source: str) -> dict:
    """What ``/info`` reports: the run, its final metrics, git commit and the export's parity figures."""
    from project.run.run_dir import RunDir

    run_dir = RunDir(run)
    info = json.loads(run_dir.info.read_text()) if run_dir.info.is_file() else {}
    export_json = run_dir.export / "export.json"
    export = json.loads(export_json.read_text()) if export_json.is_file() else {}
    return {
        "run_dir": str(run),
        "checkpoint": str(checkpoint),
        "source": source,
        "metrics": final_metrics(run_dir.tensorboard),
        "git_commit": info.get("git_commit"),
        "status": info.get("status"),
        "class_names": export.get("class_names"),
        "export_parity": export.get("parity"),
        "export_checkpoint_sha256": (export.get("checkpoint") or {}).get("sha256"),
    }


def final_metrics(tensorboard: Path) -> dict[str, float]:
    """The last logged value of every ``val/*`` and ``test/*`` scalar in the run's TensorBoard files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    last: dict[str, tuple[float, int, float]] = {}
    for events in sorted(tensorboard.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags().get("scalars", []):
            if tag.startswith(("val/", "test/")):
                for event in accumulator.Scalars(tag):
                    if tag not in last or (event.wall_time, event.step) >= last[tag][:2]:
                        last[tag] = (event.wall_time, event.step, event.value)
    return {tag: value for tag, (_, _, value) in sorted(last.items())}


def main(argv: list[str], parser_class: type[ArgumentParser]) -> None:
    """Parse ``argv`` (after ``serve``) with ``parser_class`` (the CLI's) and serve until interrupted; exit 2
    on a user error."""
    from project.errors import user_errors_exit_2

    parser = parser_class(prog="main.py serve", description=serve.__doc__.splitlines()[0])
    parser.add_function_arguments(serve, as_positional=False)
    with user_errors_exit_2():
        args = parser.parse_args(argv)
        serve(**{k: v for k, v in args.items() if not k.startswith("__")})
