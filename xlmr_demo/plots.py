"""Plotly figures. Functions here draw precomputed numbers; they never see a model."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

LABEL_CHARS = 40  # axis labels longer than this are cut with an ellipsis; hover shows the full text


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unique_labels(texts: Sequence[str]) -> list[str]:
    """Axis categories must be unique: number the rows."""
    return [f"{i + 1}. {html.escape(_short(t))}" for i, t in enumerate(texts)]


def _off_diagonal_min(matrix: np.ndarray) -> float:
    mask = ~np.eye(len(matrix), dtype=bool)
    return float(matrix[mask].min()) if mask.any() else 0.0


def _floor(value: float, step: float = 0.05) -> float:
    return float(np.floor(value / step) * step)


def similarity_heatmap(matrix: np.ndarray, texts: Sequence[str], title: str = "Cosine similarity") -> go.Figure:
    """Heatmap of an ``(n, n)`` similarity matrix whose rows and columns are ``texts``."""
    labels = _unique_labels(texts)
    full = [html.escape(t) for t in texts]
    n = len(texts)
    hover = [[f"{full[i]}<br>{full[j]}<br><b>{matrix[i, j]:.3f}</b>" for j in range(n)] for i in range(n)]
    fig = go.Figure(
        go.Heatmap(
            z=np.round(matrix, 3),
            x=labels,
            y=labels,
            texttemplate="%{z:.2f}" if n <= 15 else None,  # numbers in the cells while they stay legible
            hovertext=hover,
            hoverinfo="text",
            colorscale="Viridis",
            # models differ in their baseline similarity (E5's unrelated sentences still score ~0.7), so the
            # scale starts at the lowest off-diagonal value: the contrast shows this model's structure
            zmin=_floor(_off_diagonal_min(matrix)),
            zmax=1.0,
            colorbar={"title": {"text": "cosine"}},
        )
    )
    side = max(420, 40 * len(texts) + 260)
    fig.update_layout(title=title, height=side, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    fig.update_yaxes(autorange="reversed")
    return fig
