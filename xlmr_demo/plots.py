"""Plotly figures. Functions here draw precomputed numbers; they never see a model."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

LABEL_CHARS = 40  # axis labels longer than this are cut with an ellipsis; hover shows more
HOVER_CHARS = 160  # hover text is cut here: maps of long documents stay readable, and figures small


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


def similarity_heatmap(
    matrix: np.ndarray, texts: Sequence[str], title: str = "Cosine similarity", zmin: float | None = None
) -> go.Figure:
    """Heatmap of an ``(n, n)`` similarity matrix whose rows and columns are ``texts``.

    The colours span ``zmin`` to 1; by default from the lowest off-diagonal value (see below).
    """
    labels = _unique_labels(texts)
    full = [html.escape(_short(t, HOVER_CHARS)) for t in texts]  # n x n tooltips: long texts would repeat n times
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
            zmin=_floor(_off_diagonal_min(matrix)) if zmin is None else zmin,
            zmax=1.0,
            colorbar={"title": {"text": "cosine"}},
        )
    )
    side = max(420, 40 * len(texts) + 260)
    fig.update_layout(title=title, height=side, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    fig.update_yaxes(autorange="reversed")
    return fig


GREY = "#d9d9d9"  # points a search did not find
WEBGL_FROM = 5000  # points; SVG scatter slows down past a few thousand
#: Above this many points a 2D map draws the density of all of them and a seeded sample of
#: :data:`DOTS_SHOWN` as dots with their texts (a million dots with tooltips would make a page of
#: hundreds of MB that no browser keeps responsive); 3D maps show the sample.
DENSITY_FROM = 100_000
DOTS_SHOWN = 20_000
DENSITY_BINS = 300
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#ad494a",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
]


def embedding_map(
    coords: np.ndarray,
    color: Sequence[str],
    *,
    color_name: str = "language",
    hover: dict[str, Sequence[str]] | None = None,
    texts: Sequence[str] | None = None,
    groups: Sequence[str | None] | None = None,
    title: str = "Embedding map",
    highlight: np.ndarray | None = None,
) -> go.Figure:
    """Scatter of projected points (2D or 3D), one trace per ``color`` value.

    ``hover`` adds named columns (language, label, ...) to each point's tooltip, ``texts`` the
    (HTML-escaped, truncated) text; ``groups`` draws a thin line between rows that share an id
    (a sentence and its translations). ``highlight`` (a bool per row) keeps those rows' colours, larger,
    and greys the rest (as a selection on 2D maps). Each point carries its row position as ``customdata``
    (what a selection returns).
    """
    coords = np.asarray(coords, dtype=np.float32)
    n, dims = coords.shape
    if dims not in (2, 3):
        raise ValueError("coords must have 2 or 3 columns")
    fig = go.Figure()
    shown = np.arange(n)
    if n > DENSITY_FROM:
        shown = np.sort(np.random.default_rng(0).choice(n, DOTS_SHOWN, replace=False))
        if dims == 2:
            fig.add_trace(_density(coords))
        title += f" (dots: a sample of {DOTS_SHOWN:,}" + (f"; grey: where all {n:,} lie)" if dims == 2 else ")")
    elif groups is not None:
        fig.add_trace(_pair_lines(coords, groups))
    every = np.asarray([str(c) for c in color], dtype=object)
    values = every[shown]
    hover = hover or {}
    lines = [
        "<br>".join(f"<b>{html.escape(_short(k))}</b>: {html.escape(_short(str(v[i])))}" for k, v in hover.items())
        + (f"<br>{html.escape(_short(str(texts[i]), HOVER_CHARS))}" if texts is not None else "")
        for i in shown
    ]
    scatter = go.Scatter3d if dims == 3 else (go.Scattergl if len(shown) > WEBGL_FROM else go.Scatter)
    for k, value in enumerate(sorted(set(every.tolist()))):  # every value keeps its colour and legend entry
        picked = np.flatnonzero(values == value)
        rows = shown[picked]
        xyz = {"x": coords[rows, 0], "y": coords[rows, 1]}
        if dims == 3:
            xyz["z"] = coords[rows, 2]
        size = 7 if dims == 2 and len(shown) <= WEBGL_FROM else 4
        marker = {"size": size, "color": PALETTE[k % len(PALETTE)], "opacity": 0.85}
        lit = {}
        if highlight is not None and dims == 2:  # Plotly's own selection: the legend keeps its colours
            lit = {
                "selectedpoints": np.flatnonzero(np.asarray(highlight, bool)[rows]).tolist(),
                "selected": {"marker": {"size": size + 4, "opacity": 1.0}},
                "unselected": {"marker": {"color": GREY, "opacity": 0.5}},
            }
        elif highlight is not None:  # 3D scatters take no selection: colours and sizes per point
            found = np.asarray(highlight, bool)[rows]
            marker["color"] = np.where(found, marker["color"], GREY).tolist()
            marker["size"] = np.where(found, size + 4, size).tolist()
        fig.add_trace(
            scatter(
                **xyz,
                mode="markers",
                name=html.escape(_short(value)),
                marker=marker,
                hovertext=[lines[j] for j in picked],
                hoverinfo="text",
                customdata=rows.tolist(),
                **lit,
            )
        )
    fig.update_layout(
        title=title,
        legend={"title": {"text": color_name}, "itemsizing": "constant"},
        height=650,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="white",
    )
    if dims == 2:  # the axes of a projection have no meaning: hide them
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False, scaleanchor="x")
    return fig


def _density(coords: np.ndarray) -> go.Heatmap:
    """How many points fall in each cell of a grid over the map (log scale, white where none)."""
    counts, xs, ys = np.histogram2d(coords[:, 0], coords[:, 1], bins=DENSITY_BINS)
    shade = np.where(counts > 0, np.log1p(counts), np.nan).T  # rows of a heatmap are y
    return go.Heatmap(
        x=(xs[:-1] + xs[1:]) / 2, y=(ys[:-1] + ys[1:]) / 2, z=shade, colorscale="Greys", showscale=False,
        hoverinfo="skip", name="all points", zmin=0,
    )  # fmt: skip


def _pair_lines(coords: np.ndarray, groups: Sequence[str | None]) -> go.Scatter | go.Scatter3d:
    """One trace of segments joining each group's points to the group's first point (None-separated)."""
    first: dict[str, int] = {}
    xs: list[float | None] = []
    ys: list[float | None] = []
    zs: list[float | None] = []
    dims = coords.shape[1]
    for i, g in enumerate(groups):
        if g in (None, ""):
            continue
        if g not in first:
            first[g] = i
            continue
        j = first[g]
        xs += [float(coords[j, 0]), float(coords[i, 0]), None]
        ys += [float(coords[j, 1]), float(coords[i, 1]), None]
        if dims == 3:
            zs += [float(coords[j, 2]), float(coords[i, 2]), None]
    style = {
        "mode": "lines",
        "name": "translations",
        "hoverinfo": "skip",
        "line": {"color": "rgba(120,120,120,0.35)", "width": 1},
    }
    if dims == 3:
        return go.Scatter3d(x=xs, y=ys, z=zs, **style)
    return (go.Scattergl if len(coords) > WEBGL_FROM else go.Scatter)(x=xs, y=ys, **style)


def confusion_heatmap(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> go.Figure:
    """Confusion matrix: rows are true classes, columns predicted; cells show counts, colour row share."""
    counts = np.asarray(matrix, dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    names = [html.escape(_short(str(c), 24)) for c in labels]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            text=counts.astype(int),
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "share of row"}},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} rows<extra></extra>",
        )
    )
    fig.update_layout(title="Confusion matrix", height=max(360, 40 * len(labels) + 200), margin={"t": 50, "b": 10})
    fig.update_xaxes(title="predicted")
    fig.update_yaxes(title="true", autorange="reversed")
    return fig


def bars(
    values: dict[str, float], title: str, axis: str = "macro-F1", fmt: str = ".2f",
    intervals: dict[str, list[float] | None] | None = None,
) -> go.Figure:  # fmt: skip
    """Horizontal bars, one per key, values written on the bars; ``intervals`` ([low, high] per key) as whiskers."""
    keys = list(values)
    whiskers = {}
    if intervals:
        cis = [intervals.get(k) or [values[k], values[k]] for k in keys]
        whiskers = {
            "error_x": {
                "type": "data", "symmetric": False, "color": "#444",
                "array": [hi - values[k] for k, (_, hi) in zip(keys, cis, strict=True)],
                "arrayminus": [values[k] - lo for k, (lo, _) in zip(keys, cis, strict=True)],
            }
        }  # fmt: skip
    fig = go.Figure(
        go.Bar(
            x=[values[k] for k in keys],
            y=[html.escape(str(k)) for k in keys],
            orientation="h",
            texttemplate=f"%{{x:{fmt}}}",
            marker_color=PALETTE[0],
            **whiskers,
        )
    )
    fig.update_layout(title=title, height=max(260, 32 * len(keys) + 120), margin={"t": 50, "b": 10})
    fig.update_xaxes(title=axis)
    fig.update_yaxes(autorange="reversed")
    return fig


def transfer_heatmap(transfer: dict, min_rows: int) -> go.Figure:
    """Cross-lingual transfer: macro-F1 of a head trained on one language (rows) per evaluated language.

    Each cell scores the evaluated language's rows whose meaning the source language never trained on
    (``eval_rows``: how many, per cell). Cells of fewer than ``min_rows`` rows are grey: a score of 12
    rows swings by tens of points with one row more or less right.
    """
    z = np.array([[np.nan if v is None else v for v in row] for row in transfer["macro_f1"]], dtype=float)
    rows = np.asarray(transfer["eval_rows"])
    few = np.broadcast_to(rows < min_rows, z.shape)
    x = [html.escape(lang) for lang in transfer["eval_languages"]]
    y = [html.escape(lang) for lang in transfer["train_languages"]]
    text = np.broadcast_to(rows, z.shape).astype(str)
    common = {"x": x, "y": y, "text": text, "texttemplate": "%{z:.2f}<br>%{text} rows", "zmin": 0, "zmax": 1}
    fig = go.Figure(
        [
            go.Heatmap(
                z=np.where(few, np.nan, z), colorscale="Viridis", colorbar={"title": {"text": "macro-F1"}}, **common
            ),
            go.Heatmap(
                z=np.where(few, z, np.nan), colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]], showscale=False,
                hovertemplate="%{z:.2f}: too few test rows to trust<extra></extra>", **common,
            ),
        ]
    )  # fmt: skip
    title = "Trained on one language (rows), evaluated on each (columns)"
    if few.any():
        title += f"<br><sub>grey: fewer than {min_rows} test rows, too few to trust</sub>"
    fig.update_layout(title=title, height=420)
    fig.update_xaxes(title="evaluated on")
    fig.update_yaxes(title="trained on", autorange="reversed")
    return fig


def loss_curve(train_loss: Sequence[float], validation_loss: Sequence[float], best_epoch: int = 0) -> go.Figure:
    """Training and validation loss per epoch, the kept epoch marked."""
    epochs = list(range(1, len(train_loss) + 1))
    fig = go.Figure([go.Scatter(x=epochs, y=list(train_loss), name="training", mode="lines")])
    if validation_loss:
        fig.add_trace(
            go.Scatter(x=epochs[: len(validation_loss)], y=list(validation_loss), name="validation", mode="lines")
        )
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", annotation_text="kept")
    title = "Loss" if train_loss else "Loss: none to show (logistic regression is fitted in one go, not in epochs)"
    fig.update_layout(title=title, height=300, margin={"t": 50, "b": 10})
    fig.update_xaxes(title="epoch")
    return fig


def finetune_curve(
    losses: Sequence[Sequence[float]], scores: Sequence[Sequence[float]], kept: float | None = None,
    score: str = "macro-F1",
) -> go.Figure:  # fmt: skip
    """Fine-tuning as it goes, by epoch: the training loss of every step (``losses``: (epoch, loss) pairs) and
    its running mean over 10 steps, and the validation ``score`` of every evaluation (``scores``: (epoch,
    score) pairs); the kept weights marked."""
    epochs, values = [e for e, _ in losses], [v for _, v in losses]
    smooth = np.convolve(values, np.ones(10) / 10, mode="valid").tolist() if len(values) >= 10 else []
    fig = go.Figure(
        [
            go.Scatter(x=epochs, y=values, name="training loss (each step)", mode="lines", opacity=0.35),
            go.Scatter(x=epochs[9:], y=smooth, name="training loss (mean of 10 steps)", mode="lines"),
        ]
    )
    if scores:
        fig.add_trace(
            go.Scatter(
                x=[e for e, _ in scores], y=[s for _, s in scores], name=f"validation {score}", mode="lines+markers",
                yaxis="y2",
            )
        )  # fmt: skip
    if kept is not None:
        fig.add_vline(x=kept, line_dash="dot", annotation_text="kept")
    fig.update_layout(
        title=f"Fine-tuning: loss (left) and validation {score} (right)", height=300, margin={"t": 50, "b": 10},
        yaxis={"title": "loss", "rangemode": "tozero"},
        yaxis2={"title": score, "overlaying": "y", "side": "right", "range": [0, 1]},
        legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    fig.update_xaxes(title="epoch")
    return fig


MAX_BAR_LANGUAGES = 20  # more colours than this nobody tells apart: the rest are stacked as one


def counts_chart(counts: dict[str, dict[str, int]]) -> go.Figure:
    """Rows per label, stacked by language (the :data:`MAX_BAR_LANGUAGES` with most rows; the rest as one)."""
    totals: Counter = Counter()
    for per in counts.values():
        totals.update(per)
    languages = sorted(lang for lang, _ in totals.most_common(MAX_BAR_LANGUAGES))
    if len(totals) > len(languages):
        other = f"{len(totals) - len(languages):,} other languages"
        shown = set(languages)
        counts = {
            label: {
                **{k: v for k, v in per.items() if k in shown},
                other: sum(v for k, v in per.items() if k not in shown),
            }
            for label, per in counts.items()
        }
        languages.append(other)
    labels = sorted(counts)
    fig = go.Figure(
        [
            go.Bar(
                name=html.escape(lang),
                x=[html.escape(_short(str(c), 24)) for c in labels],
                y=[counts[c].get(lang, 0) for c in labels],
                marker_color=PALETTE[k % len(PALETTE)],
            )
            for k, lang in enumerate(languages)
        ]
    )
    fig.update_layout(
        barmode="stack", title="Rows per label and language", height=360, legend={"title": {"text": "language"}}
    )
    return fig
