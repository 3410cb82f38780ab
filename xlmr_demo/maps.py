"""The cross-lingual embedding map: rows of a file -> embeddings -> a projection and its diagnostics.

:func:`build_map` is what the ``map`` command and the app's Explore tab call; it returns plain
data (coordinates, scores). :mod:`xlmr_demo.views` draws it, in the app and in the HTML export.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .clusters import Clusters, check_names_language, cluster_count, find_clusters
from .columns import detect_columns
from .encoders import embed
from .errors import UserError
from .languages import UNKNOWN_LANGUAGE, detect_languages
from .limits import current as current_limits
from .models import EMBEDDED_NAME
from .progress import Progress, ticking
from .projection import (
    TSNE_MAX_POINTS,
    Projection,
    ProjectionConfig,
    alignment,
    centroid_similarity,
    neighbour_rate,
    project,
    separability,
)
from .readers import read_table
from .table import Table, columns_text, short
from .writers import write_file_atomically, write_table

MAX_COLOURS = 100  # one legend entry (and one trace) per value: beyond this, nobody reads the colours


@dataclass
class MapData:
    """The rows to map: texts, their languages, optional translation groups and extra columns."""

    texts: list[str]
    languages: list[str]
    groups: list[str | None] | None = None
    columns: dict[str, list[str]] = field(default_factory=dict)  # other columns, to colour and hover by
    notes: list[str] = field(default_factory=list)
    label: str | None = None  # the one of ``columns`` that holds labels, if any
    rows: list[int] | None = None  # each row's 1-based data-row number in the file it was read from

    def sample(self, n: int, seed: int = 0) -> MapData:
        """A seeded random ``n`` of the rows, in their order, translations kept together where groups exist."""
        rng = np.random.default_rng(seed)
        if self.groups is None:
            keys = rng.random(len(self.texts))
        else:  # one random key per group: a group's rows are taken (or left) together
            ids = {g: i for i, g in enumerate(dict.fromkeys(g for g in self.groups if g is not None))}
            draws = rng.random(len(ids) + len(self.texts))  # rows without a group draw their own
            keys = np.array([draws[ids[g] if g is not None else len(ids) + i] for i, g in enumerate(self.groups)])
        rows = np.sort(np.argsort(keys, kind="stable")[:n])
        note = f"Mapped a random {n:,} of the {len(self.texts):,} rows: the most this server maps at once."
        return self._rows(rows, note)

    def keep_languages(self, wanted: Sequence[str]) -> MapData:
        """Only the rows in the ``wanted`` languages (all rows when none are named), in their order."""
        wanted = set(wanted)
        if not wanted:
            return self
        rows = [i for i, lang in enumerate(self.languages) if lang in wanted]
        if not rows:
            named = ", ".join(short(v, 20) for v in sorted(wanted)[:10])
            raise UserError(f"No row is in the languages chosen ({named}). Choose others, or none to show all.")
        shown, of = len(set(self.languages) & wanted), len(set(self.languages))
        return self._rows(rows, f"Showing {shown} of {of} languages ({len(rows):,} of {len(self.texts):,} rows).")

    def _rows(self, rows: Sequence[int], note: str) -> MapData:
        """The given rows (indices, in order), with ``note`` added to the notes."""

        def pick(values: list) -> list:
            return [values[i] for i in rows]

        return replace(
            self,
            texts=pick(self.texts),
            languages=pick(self.languages),
            groups=pick(self.groups) if self.groups is not None else None,
            columns={c: pick(v) for c, v in self.columns.items()},
            rows=pick(self.rows) if self.rows is not None else None,
            notes=[*self.notes, note],
        )


def map_data_from_table(
    table: Table,
    name: str,
    text_column: str | None = None,
    language_column: str | None = None,
    pair_column: str | None = None,
) -> MapData:
    """Pick the columns (given or detected) and drop rows without text."""
    roles = ("text", "language", "group", "label")
    given = {"text": text_column, "language": language_column, "group": pair_column}
    found = detect_columns(table, name, roles, required=("text",), **given)
    text_column, language_column, pair_column = found.text, found.language, found.group
    cells = table.column(text_column)
    keep = [i for i, t in enumerate(cells) if t and t.strip()]
    if not keep:
        raise UserError(f"The column {text_column!r} has no text to map.")
    notes = list(table.notes)
    if len(keep) < len(table):
        notes.append(f"Skipped {len(table) - len(keep)} row(s) without text.")

    def kept(column: str) -> list[str | None]:
        values = table.column(column)
        return [values[i] for i in keep]

    texts = [cells[i] for i in keep]
    if language_column:
        languages = [(v or UNKNOWN_LANGUAGE).strip() for v in kept(language_column)]
    else:
        languages = detect_languages(texts)
        notes.append("No language column: detected each row's language offline (py3langid).")
    groups = kept(pair_column) if pair_column else None
    if groups is not None and all(g is None for g in groups):
        groups = None
    other = [c for c in table.columns if c not in (text_column, language_column, pair_column)]
    columns = {c: [v or "" for v in kept(c)] for c in other}
    return MapData(texts, languages, groups, columns, notes, label=found.label, rows=[i + 1 for i in keep])


def add_predictions(data: MapData, classifier, label_column: str | None = None) -> str | None:
    """Add ``predicted_label`` (and ``correct``, yes/no, when ``label_column`` holds the truth) to colour by.

    Returns the label column used for ``correct``, if any: ``label_column`` or a detected one.
    """
    data.columns["predicted_label"] = classifier.predict(data.texts)
    label_column = label_column or data.label
    if label_column:
        truth = data.columns[label_column]
        data.columns["correct"] = [
            "yes" if t == p else "no" for t, p in zip(truth, data.columns["predicted_label"], strict=True)
        ]
    return label_column


@dataclass
class MapResult:
    """Everything the map shows, as plain data plus figures."""

    data: MapData
    projection: Projection
    embeddings: np.ndarray
    alignment: dict[str, float]  # per language, full dimensions
    rate_full: float | None  # translation-neighbour rate in full dimensions
    rate_map: float | None  # the same on the map: how much of it the picture kept
    language_separability: dict | None
    label_separability: dict | None
    label_column: str | None
    color: str  # "language" or one of data.columns: what the map is coloured by
    centroid_languages: list[str]
    centroid_similarity: np.ndarray  # cosine similarity of the languages' mean embeddings
    model: str = EMBEDDED_NAME
    clusters: Clusters | None = None

    def colours(self) -> list[str]:
        """Each row's value of what the map is coloured by."""
        if self.color == "language":
            return self.data.languages
        if self.color in self.data.columns:  # a column of the file's own, even if called "cluster"
            return self.data.columns[self.color]
        return self.clusters.row_names()


def build_map(
    data: MapData,
    model: str = EMBEDDED_NAME,
    config: ProjectionConfig = ProjectionConfig(),
    color: str = "language",
    label_column: str | None = None,
    progress: Progress | None = None,
    embeddings: np.ndarray | None = None,
    clusters: int | str | None = None,
    names_language: str | None = "en",
) -> MapResult:
    """Embed ``data``, project it and measure how well languages line up.

    ``clusters`` ("auto" or a number) finds named clusters too (:mod:`xlmr_demo.clusters`), named in
    ``names_language`` where a cluster has rows in it; the map can then be coloured by ``"cluster"``.

    Above the map size limit (:attr:`xlmr_demo.limits.Limits.map_points`, set in public mode) a
    seeded sample of the rows is mapped, and the findings say so. ``embeddings``, when given, are
    those of ``data.texts`` by ``model`` (made elsewhere, such as on Ray), row for row; they cannot
    be combined with a map size limit, which would sample the rows.
    """
    if color == "cluster" and clusters is None and "cluster" not in data.columns:
        clusters = "auto"
    if color not in ("language", "cluster", *data.columns):
        choices = columns_text(list(data.columns)) or "none"
        raise UserError(f"Cannot colour by {short(color)!r}; choose language or one of: {choices}.")
    colours = len(set(data.languages if color == "language" else data.columns.get(color, ())))
    if colours > MAX_COLOURS:
        raise UserError(
            f"{short(color)!r} has {colours:,} different values; a map can tell at most {MAX_COLOURS} colours "
            "apart. Choose a column of categories (language, label, topic)."
        )
    max_points = current_limits().map_points
    if max_points is not None and config.method == "tsne" and config.dims == 3:  # no stopping half-way:
        max_points = min(max_points, TSNE_MAX_POINTS)  # 3D t-SNE of 5,000 points takes 36-41 s
    if max_points is not None and len(data.texts) > max_points:
        data = data.sample(max_points, seed=config.seed)
    count = None  # the clusters asked for are refused before any work, as are names languages that are pastes
    if clusters is not None:
        check_names_language(names_language)
        count = cluster_count(clusters, len(data.texts))
    if embeddings is not None and len(embeddings) != len(data.texts):
        raise ValueError(f"{len(embeddings)} embeddings for {len(data.texts)} texts (was the map sampled?)")
    X = embed(data.texts, model=model, progress=progress).embeddings if embeddings is None else embeddings
    projection = project(X, config, data.languages, progress=progress)
    groups = data.groups
    rate_full, per_language = alignment(X, data.languages, groups) if groups else (None, {})
    rate_map = neighbour_rate(projection.coords, data.languages, groups) if groups else None
    label_column = label_column or data.label
    names, matrix = centroid_similarity(X, data.languages)
    found = None
    if clusters is not None:
        with ticking(progress, "finding and naming clusters", 2 + len(X) / 2000):
            found = find_clusters(X, data.languages, data.texts, model, count, names_language, seed=config.seed)
    return MapResult(
        data=data,
        projection=projection,
        embeddings=X,
        alignment=per_language,
        rate_full=rate_full,
        rate_map=rate_map,
        language_separability=separability(projection.coords, data.languages),
        label_separability=separability(projection.coords, data.columns[label_column]) if label_column else None,
        label_column=label_column,
        color=color,
        centroid_languages=names,
        centroid_similarity=matrix,
        model=model,
        clusters=found,
    )


def before_after_maps(
    dataset, before, after, config: ProjectionConfig = ProjectionConfig(), progress: Progress | None = None
) -> tuple[MapResult, MapResult]:
    """Maps of the same rows by two encoders (a model before and after fine-tuning), coloured by label.

    The rows are ``dataset``'s test rows, which fine-tuning never learnt from (all rows when it has
    none); languages are not centred, so how much the points group by language shows as it is.
    """
    rows = dataset.indices("test")
    if len(rows) == 0:
        rows = np.arange(len(dataset.texts))
    label = dataset.columns.label or "label"
    data = MapData(
        texts=[dataset.texts[i] for i in rows],
        languages=[dataset.languages[i] for i in rows],
        columns={label: [dataset.labels[i] for i in rows]},
        notes=[f"The {len(rows):,} test rows of your data: neither model learnt from them."],
        label=label,
    )
    config = replace(config, center_languages=False)
    return tuple(build_map(data, model, config, color=label, progress=progress) for model in (before, after))


@dataclass(frozen=True)
class Placement:
    """Where a new text lands on an existing map, and its nearest mapped texts."""

    coords: np.ndarray  # (dims,)
    language: str
    neighbours: list[dict]  # {text, language, similarity, **other columns}, most similar first


def similarity_to(result: MapResult, text: str) -> tuple[np.ndarray, str]:
    """(each mapped row's cosine similarity to ``text``, the text's detected language).

    When the map removed language identity, the text's language mean is removed too (the mean of all rows
    when the map has none of its language), so that rows are near by meaning and not by language.
    """
    if not text or not text.strip():
        raise UserError("Type a text first.")
    vector = embed([text], model=result.model).embeddings[0]
    language = detect_languages([text], 0.0)[0]
    X = result.embeddings
    langs = np.asarray(result.data.languages, dtype=object)
    if result.projection.centered:
        from .projection import center_languages

        own = X[langs == language].mean(axis=0) if (langs == language).any() else X.mean(axis=0)
        vector = vector - own
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        X = center_languages(X, langs)
    return X @ vector, language


def place_text(result: MapResult, text: str, k: int = 5) -> Placement:
    """Put ``text`` on the map at the mean position of its ``k`` most similar mapped texts.

    t-SNE cannot place new points, so every method uses this rule: the position says "among
    these", the neighbour list says exactly which (:func:`similarity_to`).
    """
    similarity, language = similarity_to(result, text)
    nearest = np.argsort(-similarity, kind="stable")[: min(k, len(similarity))]
    neighbours = [
        {
            "text": result.data.texts[i],
            "language": result.data.languages[i],
            "similarity": round(float(similarity[i]), 3),
            **{c: v[i] for c, v in result.data.columns.items()},
        }
        for i in nearest
    ]
    return Placement(result.projection.coords[nearest].mean(axis=0), language, neighbours)


CLUSTERS = ("cluster", "cluster_name")  # the columns --coords gets


def write_coords(result: MapResult, path: str | Path) -> None:
    """The input rows plus x, y (and z), and each row's cluster and its name where the map found clusters: CSV
    or TSV (5 decimals), or Parquet (float32, for maps of millions; what Embedding Atlas opens:
    ``embedding-atlas map.parquet --text text --x x --y y``)."""
    coords = result.projection.coords
    axes = ["x", "y", "z"][: coords.shape[1]]
    data = result.data
    cells = [("text", data.texts), ("language", data.languages), *([("pair_id", data.groups)] if data.groups else [])]
    cells += list(data.columns.items())
    if result.clusters is not None:  # named so as not to hide a column of the file's own
        taken = {name for name, _ in cells}
        number, name = CLUSTERS
        while number in taken or name in taken:
            number, name = number + "_found", name + "_found"
        cells += [(number, [str(c + 1) for c in result.clusters.labels]), (name, result.clusters.row_names())]
    if Path(path).suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = [pa.array(v, pa.string()) for _, v in cells] + [pa.array(c) for c in coords.T]
        table = pa.Table.from_arrays(arrays, names=[name for name, _ in cells] + axes)
        write_file_atomically(Path(path), lambda tmp: pq.write_table(table, tmp))
        return
    rows = [[v[i] for _, v in cells] + [f"{c:.5f}" for c in coords[i]] for i in range(len(data.texts))]
    write_table(Table(columns=[name for name, _ in cells] + axes, rows=rows), path)


def load_map_data(path: str | Path, **columns: str | None) -> MapData:
    path = Path(path)
    return map_data_from_table(read_table(path), path.name, **columns)
