"""A confusion matrix as a PNG: counts per (true, predicted) class, darker for more."""

from pathlib import Path

import torch


def draw_confusion_matrix(counts: torch.Tensor, path: Path, class_names: list[str] | None = None) -> Path:
    """Save ``counts`` (rows: true class, columns: predicted class) to ``path``; returns ``path``.

    matplotlib is imported here, not at start-up: it costs about a second and only a test run needs it.
    """
    from matplotlib.figure import Figure

    n = counts.shape[0]
    names = class_names or [str(k) for k in range(n)]
    size = min(4 + 0.4 * n, 20)
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(counts.numpy(), cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = range(n)
    ax.set_xticks(ticks, names, rotation=90 if n > 10 else 0)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = counts.diag().sum().item() / max(counts.sum().item(), 1)
    ax.set_title(f"{path.stem}: {int(counts.sum())} samples, accuracy {accuracy:.4f}")
    if n <= 30:
        threshold = counts.max().item() / 2
        for (i, j), value in zip(
            torch.cartesian_prod(torch.arange(n), torch.arange(n)).tolist(), counts.flatten(), strict=True
        ):
            ax.text(
                j, i, int(value), ha="center", va="center", color="white" if value > threshold else "black"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
