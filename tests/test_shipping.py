"""From a run to a shipped model: export with parity (Digits SimpleCNN, ImageFolder ResNet-18), prediction on
a folder of new images, and the LitServe endpoint (docs/shipping.md)."""

import contextlib
import csv
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CONFIGS, ROOT, cli, run_dirs
from PIL import Image
from torch import nn

from project.cli import cli_main

DIGITS = str(CONFIGS / "digits.yaml")
SHAPES = ("checker", "horizontal", "vertical")  # the ImageFolder's classes, in sorted order
SHORT = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=15"]


def stripes(kind: str, rng: np.random.Generator, size: int = 16) -> Image.Image:
    """A noisy RGB picture of ``kind``: stripes one way or the other, or a checkerboard."""
    rows, cols = np.indices((size, size))
    phase = rng.integers(0, 4)
    pattern = {
        "horizontal": (rows + phase) // 2 % 2,
        "vertical": (cols + phase) // 2 % 2,
        "checker": ((rows + phase) // 2 + (cols + phase) // 2) % 2,
    }[kind]
    pixels = pattern[..., None] * rng.uniform(0.5, 1.0, 3) + rng.normal(0, 0.1, (size, size, 3))
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8), "RGB")


def digit_png(image: np.ndarray, path: Path) -> None:
    """A Digits sample (values 0..16) as the 8x8 grey PNG a user would send."""
    Image.fromarray((image.reshape(8, 8) * 255 / 16).round().astype(np.uint8), "L").save(path)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("digits") / "result"
    cli("fit", "--config", DIGITS, *SHORT, root=root)
    (run,) = run_dirs(root)
    cli_main(["export", "--config", str(run / "config.yaml")])
    return run


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for kind in SHAPES:
        (tmp / "images" / kind).mkdir(parents=True)
        for i in range(40):
            stripes(kind, rng).save(tmp / "images" / kind / f"{i:02d}.png")
    normalize = "[{class_path: Normalize, init_args: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}]"
    cli(
        "fit", "--config", DIGITS, *SHORT, "--data=ImageFolder", f"--data.root={tmp / 'images'}",
        f"--data.train_transforms={normalize}", f"--data.eval_transforms={normalize}",
        "--data.test_fraction=0.2", "--model.net=ResNet", "--model.net.init_args.depth=18",
        "--model.net.init_args.num_classes=3", "--model.net.init_args.small_input=true",
        "--model.evaluator.init_args.num_classes=3", root=tmp / "result",
    )  # fmt: skip
    (run,) = run_dirs(tmp / "result")
    cli_main(["export", "--config", str(run / "config.yaml")])
    return run


def exported_outputs(run: Path, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of the batch ``x`` from the run's ``model.pt2`` and ``model.onnx`` (loaded afresh)."""
    import onnxruntime

    program = torch.export.load(str(run / "export" / "model.pt2")).module()
    session = onnxruntime.InferenceSession(
        str(run / "export" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return program(x), torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["digits_run", "folder_run"])
def test_export_matches_eager_at_any_batch_size(which: str, request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue(which)
    export = run / "export"
    assert sorted(p.name for p in export.iterdir()) == ["export.json", "model.onnx", "model.pt2"], (
        "no side file"
    )
    info = json.loads((export / "export.json").read_text())
    parity = info["parity"]
    print(f"{which}: {info['net']} parity over {parity['samples']} test samples: {parity['max_abs_diff']}")
    assert set(parity["argmax_disagreements"].values()) == {0}
    assert max(parity["max_abs_diff"].values()) < 1e-4
    assert parity["dynamic_batch_sizes_checked"] == [1, 7, 64]
    assert info["input"]["shape"][0] == "batch" and info["input"]["dtype"] == "float32"
    assert info["checkpoint"]["ema_weights"] is False and len(info["checkpoint"]["sha256"]) == 64
    assert info["class_names"] == ([str(d) for d in range(10)] if which == "digits_run" else list(SHAPES))
    assert info["versions"]["onnxruntime"] and info["versions"]["torch"] == torch.__version__

    from project.export.trained_run import load_run

    trained = load_run(run / "config.yaml", "best")
    samples = torch.cat(trained.sample_batches(64))
    assert parity["samples"] == len(trained.datamodule.splits["test"]), "every test sample compared"
    for size in (1, 7, 64):
        x = samples.repeat(64 // len(samples) + 1, 1, 1, 1)[:size]
        with torch.no_grad():
            eager = trained.net(x)
            pt2, onnx = exported_outputs(run, x)
        assert pt2.shape == onnx.shape == (size, len(info["class_names"]))
        torch.testing.assert_close(pt2, eager)
        torch.testing.assert_close(onnx, eager)


class GatedNet(nn.Module):
    """A net whose forward branches on a tensor's value: torch.export cannot trace that."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Flatten()
        self.gate = Gate(64, num_classes)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.stem(x))


class Gate(nn.Module):
    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(features, num_classes), nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0.5:  # data-dependent control flow
            return self.a(x)
        return self.b(x)


@pytest.mark.slow
def test_a_net_that_cannot_be_exported_is_named(tmp_path: Path) -> None:
    root = tmp_path / "result"
    cli(
        "fit", "--config", DIGITS, "--model.net=test_shipping.GatedNet", "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1", "--run.test_after_fit=false",
        root=root,
    )  # fmt: skip
    (run,) = run_dirs(root)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        cli_main(["export", "--config", str(run / "config.yaml")])
    print(err.getvalue())
    assert exit_info.value.code == 2
    message = err.getvalue()
    assert "layer 'gate' (Gate)" in message and "if x.mean() > 0.5" in message
    assert not (run / "export").exists()


@pytest.mark.slow
def test_predict_a_folder_of_new_images(folder_run: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    new = tmp_path / "new_images"
    new.mkdir()
    for i, kind in enumerate(SHAPES * 3):
        stripes(kind, rng).save(new / f"{i}_{kind}.png")
    cli("predict", "--config", str(folder_run / "config.yaml"), "--ckpt_path", "best",
        f"--data.predict_root={new}", root=tmp_path)  # fmt: skip
    with (folder_run / "predictions" / "new_images.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(Path(r["path"]).name for r in rows) == sorted(p.name for p in new.iterdir()), (
        "a row per file"
    )
    assert list(rows[0]) == ["path", "prediction", *(f"prob_{name}" for name in SHAPES)]
    for row in rows:
        assert row["prediction"] in SHAPES
        probabilities = [float(row[f"prob_{name}"]) for name in SHAPES]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        assert SHAPES[int(np.argmax(probabilities))] == row["prediction"]

    broken = tmp_path / "broken"
    broken.mkdir()
    stripes("vertical", rng).save(broken / "a.png")
    (broken / "notes.txt").write_text("not an image")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        cli_main(["predict", "--config", str(folder_run / "config.yaml"), "--ckpt_path", "best",
                  f"--data.predict_root={broken}", "--trainer.enable_progress_bar=false"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "data.predict_root" in err.getvalue() and "notes.txt" in err.getvalue()
    assert not (folder_run / "predictions" / "broken.csv").exists(), "nothing half-written"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(run: Path, port: int):
    """``main.py serve`` in its own process group (LitServe starts worker processes), stopped afterwards."""
    log = (run / "serve-test.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "serve", f"--config={run / 'config.yaml'}", f"--port={port}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
    )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def wait_until_healthy(session, url: str, process: subprocess.Popen, timeout: float = 240) -> None:
    """Poll ``/health`` until it answers ``ok`` (the server is up and its model loaded)."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if session.get(f"{url}/health", timeout=5).text == "ok":
                return
        time.sleep(0.2)  # between polls only; the condition is the server's answer
    raise AssertionError("the server did not become healthy")


@pytest.mark.slow
def test_serve_answers_good_requests_and_refuses_bad_ones(digits_run: Path, tmp_path: Path) -> None:
    import requests
    from sklearn.datasets import load_digits

    from project.export.trained_run import load_run

    images, labels = load_digits(return_X_y=True)
    trained = load_run(digits_run / "config.yaml", "best")
    pngs = []
    for i in range(40):
        digit_png(images[i], tmp_path / f"{i}.png")
        pngs.append((tmp_path / f"{i}.png").read_bytes())
    x = torch.tensor(images[:40], dtype=torch.float32).reshape(-1, 1, 8, 8)
    png_x = torch.stack(
        [torch.tensor(np.asarray(Image.open(io.BytesIO(b)), dtype=np.float32) / 255)[None] for b in pngs]
    )
    with torch.no_grad():
        expected_png = trained.net(png_x).argmax(-1).tolist()
        expected_json = trained.net(x / 16).argmax(-1).tolist()
    # One sample per request, then batches of 4: (body, the classes the eager net gives them).
    good_json = [({"inputs": (x[i] / 16).tolist()}, expected_json[i : i + 1]) for i in range(25)]
    good_json += [
        ({"inputs": (x[i : i + 4] / 16).tolist()}, expected_json[i : i + 4]) for i in range(0, 20, 4)
    ]
    bad = [
        ("files", {"file": ("notes.txt", b"not an image", "text/plain")}),
        ("files", {"picture": ("0.png", pngs[0], "image/png")}),
        ("json", {"inputs": [[1.0, 2.0]]}),
        ("json", {"inputs": "eight by eight"}),
        ("json", {"pixels": [0.0]}),
        ("data", b'{"inputs": [[0.1'),
        ("data", b""),
        ("text", "inputs=1"),
        ("json", {"inputs": [[[float("nan")] * 8] * 8]}),
        ("json", [1, 2, 3]),
    ] * 3
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server(digits_run, port) as process, requests.Session() as session:
        wait_until_healthy(session, url, process)
        statuses, latencies = [], []
        for i, body in enumerate(pngs):
            start = time.perf_counter()
            answer = session.post(
                f"{url}/predict", files={"file": (f"{i}.png", body, "image/png")}, timeout=60
            )
            latencies.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.text
            (prediction,) = answer.json()["results"]
            assert prediction["class"] == str(expected_png[i])
            assert sum(prediction["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        for body, want in good_json:
            answer = session.post(f"{url}/predict", json=body, timeout=60)
            assert answer.status_code == 200, answer.text
            assert [p["class"] for p in answer.json()["results"]] == [str(c) for c in want]
        for kind, body in bad:
            if kind == "files":
                answer = session.post(f"{url}/predict", files=body, timeout=60)
            elif kind == "json":
                answer = session.post(f"{url}/predict", data=json.dumps(body), timeout=60,
                                      headers={"content-type": "application/json"})  # fmt: skip
            elif kind == "data":
                answer = session.post(f"{url}/predict", data=body, timeout=60,
                                      headers={"content-type": "application/json"})  # fmt: skip
            else:
                answer = session.post(f"{url}/predict", data=body, timeout=60)
            statuses.append(answer.status_code)
            assert 400 <= answer.status_code < 500, (kind, body, answer.status_code, answer.text)
            assert answer.json()["detail"]
        assert len(pngs) + len(good_json) + len(bad) == 100
        assert session.get(f"{url}/health", timeout=10).text == "ok", "still healthy after the bad requests"
        info = session.get(f"{url}/info", timeout=10).json()["model"]
        assert info["metrics"]["test/accuracy"] > 0.5 and info["export_parity"]["argmax_disagreements"]
        assert info["source"] == "auto" and info["git_commit"]
    accuracy = statistics.mean(int(e == y) for e, y in zip(expected_png, labels[:40]))
    p50, p95 = np.percentile(np.array(latencies) * 1000, [50, 95])
    print(
        f"serve: single Digits PNG latency p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(latencies)} requests "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); accuracy on them {accuracy:.2f}; "
        f"bad-request statuses {sorted(set(statuses))}"
    )
