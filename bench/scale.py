"""Scale: embedding many real texts in one process and on a local Ray cluster, and a map of a million points.

    python bench/scale.py [--rows 200000] [--map-points 1000000]

1. **Embedding**: ``--rows`` real texts (every UMSAB tweet and every Tatoeba sentence, repeated; each
   repeat ends in its row id, `` #123``, so that no text is a duplicate the product would embed only
   once). The same rows through ``python -m xlmr_demo embed`` (one process, one CSV) and through
   ``embed --engine ray`` (a local Ray cluster started by the command, the rows split into 8 CSV
   files, two model workers at 0.5 CPU each), both ``--no-cache``/no cache, both to ``.npy``:
   wall time, rows per second, their ratio, peak memory of the driver and of each Ray worker
   (``VmHWM``, sampled every half second), and the largest difference between the two outputs.
2. **Maps**: the product's map stages (centring, duplicates, t-SNE, the translation-neighbour rate
   in full dimensions and on the map, the figure and its self-contained HTML page, the coordinates
   as Parquet) on the embedded rows, and on ``--map-points`` points made from them by adding a
   little noise (the embedded rows are as many real distinct texts as there are; the noise only
   makes every point distinct, so the timing is that of a million different points).
3. **On paper**: what 10 million rows cost on N machines, from the measured rate per core.

Writes ``bench/results/scale.md``. Needs ../shared/data and ``pip install -r requirements-ray.txt``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "scale.md"
UMSAB = {"english": "en", "spanish": "es", "french": "fr", "arabic": "ar"}
TATOEBA = ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn")
RAY_FILES = 8


def real_texts() -> list[tuple[str, str, str]]:
    """(text, language, pair id) of every UMSAB tweet and Tatoeba sentence; tweets have no pair id."""
    rows = []
    for folder, lang in UMSAB.items():
        for split in ("train", "val", "test"):
            path = DATA / "umsab" / folder / f"{split}_text.txt"
            rows += [(t, lang, "") for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    for lang in TATOEBA:
        base = DATA / "tatoeba" / f"tatoeba.{lang}-eng"
        for side in (lang, "eng"):
            lines = Path(f"{base}.{side}").read_text(encoding="utf-8").splitlines()
            rows += [(t, side, f"{lang}{i}") for i, t in enumerate(lines) if t.strip()]
    return rows


def labels(n: int) -> tuple[list[str], list[str]]:
    """The language and pair id of each of :func:`write_inputs`' ``n`` rows, without writing them."""
    base = real_texts()
    return [base[i % len(base)][1] for i in range(n)], [base[i % len(base)][2] for i in range(n)]


def noisy_copies(X: np.ndarray, languages: list[str], pairs: list[str], points: int):
    """``points`` rows made of copies of ``X`` with a little noise (seed 0), unit length: every point distinct."""
    copies = -(-points // len(X))
    rng = np.random.default_rng(0)
    noisy = np.concatenate([X + rng.normal(0, 0.01, X.shape).astype(np.float32) for _ in range(copies)])[:points]
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return noisy, (languages * copies)[:points], (pairs * copies)[:points], copies


def write_inputs(folder: Path, n: int) -> tuple[Path, list[Path], list[str], list[str]]:
    """One CSV of ``n`` rows, the same rows in RAY_FILES CSVs, and each row's language and pair id."""
    base = real_texts()
    header = ["id", "text", "language", "pair_id"]
    # every repeat of a sentence's translations counts as its translation (they mean the same): the map is
    # asked to keep translations together, not to tell apart copies that differ only in their row id
    rows = [[str(i), f"{t} #{i}", lang, pair] for i in range(n) for t, lang, pair in [base[i % len(base)]]]
    whole = folder / "texts.csv"
    parts = []
    for path, chunk in [(whole, rows)] + [
        (folder / "parts" / f"texts-{k}.csv", rows[k * n // RAY_FILES : (k + 1) * n // RAY_FILES])
        for k in range(RAY_FILES)
    ]:
        path.parent.mkdir(exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(chunk)
        if path != whole:
            parts.append(path)
    return whole, parts, [r[2] for r in rows], [r[3] for r in rows]


class PeakMemory:
    """Peak resident memory (VmHWM) of a process and of every Ray worker process, sampled while it runs."""

    def __init__(self) -> None:
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()

    def _sample(self, driver: int) -> None:
        while not self._stop.wait(0.5):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                    if int(pid) != driver and not name.startswith("ray::"):
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                hwm = next((int(ln.split()[1]) * 1024 for ln in status.splitlines() if ln.startswith("VmHWM")), 0)
                self.peaks[int(pid)] = ("driver" if int(pid) == driver else name, hwm)

    def run(self, command: list[str]) -> float:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        thread = threading.Thread(target=self._sample, args=(process.pid,), daemon=True)
        thread.start()
        _, err = process.communicate()
        seconds = time.perf_counter() - started
        self._stop.set()
        thread.join()
        if process.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{err[-3000:]}")
        return seconds

    def driver(self) -> int:
        return max((m for name, m in self.peaks.values() if name == "driver"), default=0)

    def workers(self) -> list[int]:
        return sorted((m for name, m in self.peaks.values() if "MapWorker" in name), reverse=True)


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def embedding(folder: Path, rows: int) -> tuple[list[str], dict, np.ndarray, list[str], list[str]]:
    whole, parts, languages, pairs = write_inputs(folder, rows)
    cli = [sys.executable, "-m", "xlmr_demo", "embed"]
    single, ray = PeakMemory(), PeakMemory()
    single_s = single.run([*cli, str(whole), "--column", "text", "--no-cache", "--output", str(folder / "one.npy")])
    ray_s = ray.run(
        [*cli, *map(str, parts), "--column", "text", "--engine", "ray", "--output", str(folder / "ray.npy")]
    )
    one, many = np.load(folder / "one.npy"), np.load(folder / "ray.npy")
    workers = ray.workers()
    facts = {"single_s": single_s, "ray_s": ray_s, "diff": float(np.abs(one - many).max()), "workers": workers}
    lines = [
        f"## Embedding {rows:,} real texts (UMSAB and Tatoeba, repeated, each ending in its row id)",
        "",
        "| path | seconds | rows/s | ratio vs one process | peak memory |",
        "|---|---|---|---|---|",
        f"| one process: `xlmr_demo embed texts.csv --no-cache` | {single_s:.0f} | {rows / single_s:,.0f} | 1.00 "
        f"| {gib(single.driver())} |",
        f"| local Ray cluster: `xlmr_demo embed parts/*.csv --engine ray` ({RAY_FILES} files, 2 workers at 0.5 "
        f"CPU) | {ray_s:.0f} | {rows / ray_s:,.0f} | {single_s / ray_s:.2f} | driver {gib(ray.driver())}; "
        f"workers {', '.join(gib(m) for m in workers) or 'not seen'} |",
        "",
        f"Largest difference between the two outputs, over all {rows:,} x {one.shape[1]} values: "
        f"{facts['diff']:.1e}. The Ray time includes starting the local cluster and loading the model in "
        "each worker.",
    ]
    return lines, facts, one, languages, pairs


#: --split: where the map of the first run waits for the second
SPLIT = Path(tempfile.gettempdir()) / "xlmr-scale-split"


def map_stages(
    X: np.ndarray, languages: list[str], pairs: list[str], folder: Path, label: str, split: bool = False
) -> list[str]:
    """The product's map stages on ``X``, timed; ``split``: stop after the map (saved), or go on from a saved one."""
    from encode import Timing, timed  # bench/encode.py: wall time and the CPU used by this process and by others

    from xlmr_demo.maps import MapData, MapResult, write_coords
    from xlmr_demo.plots import DENSITY_FROM
    from xlmr_demo.projection import (
        LARGE_MAP,
        LARGE_MAP_POINTS,
        Projection,
        ProjectionConfig,
        center_languages,
        neighbour_rate,
        project,
    )
    from xlmr_demo.views import map_figure

    times = []

    def stage(name: str, fn):
        timing, out = timed(fn)
        times.append((name, timing))
        return out

    groups = [p or None for p in pairs]
    _peak_reset()
    saved = SPLIT / f"map-{len(X)}.npz"  # --split: the first two stages of an earlier run, to go on from
    if split and saved.is_file():
        with np.load(saved) as earlier:
            times += [(str(n), Timing(float(sec), float(own), float(other))) for n, sec, own, other in earlier["times"]]
            projection = Projection(earlier["coords"], "tsne", True)
            earlier_peak = int(earlier["peak"])
    else:
        centred = stage("centre each language", lambda: center_languages(X, languages))
        config = ProjectionConfig(center_languages=False)
        recipe = "large-map recipe, `LARGE_MAP`" if len(X) > LARGE_MAP_POINTS else "openTSNE as it comes"
        name = f"remove duplicates, t-SNE (openTSNE, 2D; {recipe})"
        projection = stage(name, lambda: project(centred, config, cache=False))
        del centred
        earlier_peak = _peak()
        if split:
            SPLIT.mkdir(parents=True, exist_ok=True)
            rows = np.array([(n, t.seconds, t.own_cores, t.other_cores) for n, t in times], dtype=object).astype(str)
            np.savez(saved, coords=projection.coords, times=rows, peak=earlier_peak)
            raise SystemExit(f"{label}: map saved to {saved}; run the same command again for the other stages")
    full = stage("translation rate, full dimensions", lambda: neighbour_rate(X, languages, groups))
    kept = stage("translation rate, map", lambda: neighbour_rate(projection.coords, languages, groups))
    data = MapData([f"text {i}" for i in range(len(X))], languages, groups, {}, [])
    result = MapResult(data, Projection(projection.coords, "tsne", True), X, {}, full, kept, None, None, None,
                       "language", [], np.zeros((0, 0)))  # fmt: skip
    figure = stage("figure" + (" (density + 20,000 dots)" if len(X) > DENSITY_FROM else ""), lambda: map_figure(result))
    html = folder / "map.html"
    stage("HTML page", lambda: figure.write_html(html, include_plotlyjs=True))
    stage("coordinates as Parquet", lambda: write_coords(result, folder / "coords.parquet"))
    total = sum(t.seconds for _, t in times)
    peak = max(_peak(), earlier_peak)
    if len(X) > LARGE_MAP_POINTS and full:  # the product's recipe measured here: its cell of "Faster maps"
        records = json.loads(STEPS_JSON.read_text()) if STEPS_JSON.is_file() else []
        tsne = times[1][1]
        records = [r for r in records if (r["size"], r["step"]) not in ((len(X), "product"), (len(X), "full"))]
        records += [
            {"size": len(X), "step": "full", "rate": full, "seconds": times[2][1].seconds},
            {"size": len(X), "step": "product", "seconds": tsne.seconds, "cpu": tsne.cpu, "rate": kept,
             "kept": kept / full, "peak_gib": peak / 2**30, "recipe": repr(LARGE_MAP), "via": "map_stages"},
        ]  # fmt: skip
        STEPS_JSON.write_text(json.dumps(records, indent=1) + "\n")
    return [
        f"### {label}: {len(X):,} points",
        "",
        "| stage | seconds | CPU cores own / others |",
        "|---|---|---|",
        *(f"| {name} | {t.seconds:.1f} | {t.cpu} |" for name, t in times),
        f"| **all** | **{total:.0f}** ({total / 60:.1f} min) | |",
        "",
        (
            f"Translation-neighbour rate (at most a seeded 20,000 of the translated rows): {full:.1%} in full "
            f"dimensions, {kept:.1%} on the map ({kept / full:.0%} kept). "
            if full
            else "No translated rows. "
        )
        + f"Page: {html.stat().st_size / 1e6:.1f} MB. Peak resident memory of the process: {gib(peak)}.",
        "",
    ]


#: Each measured step of "Faster maps" (``--steps``): id -> (what it is, recipe for n points; None: the product's
#: map below LARGE_MAP_POINTS, openTSNE's TSNE as it comes)
STEPS_JSON = ROOT / "bench" / "results" / "scale_steps.json"
FASTER_MAPS = "## Faster maps: the t-SNE stage, one change at a time"


def step_recipes() -> dict:
    from xlmr_demo.projection import LARGE_MAP, TsneRecipe

    pca, short = {"pca_dims": 50}, {"exaggeration_iter": 125, "n_iter": 250}
    return {
        "default": ("openTSNE as it comes: Annoy neighbours by cosine in all 384 dimensions, PCA start, 250 steps of "
                    "early exaggeration + 500", lambda n: None),
        "pca50": ("PCA to 50 dimensions before the neighbour search", lambda n: TsneRecipe(**pca)),
        "pca128": ("PCA to 128 dimensions before the neighbour search", lambda n: TsneRecipe(pca_dims=128)),
        "exact": ("PCA 50, exact neighbours instead of Annoy", lambda n: TsneRecipe(**pca, neighbors="exact")),
        "nndescent": ("PCA 50, pynndescent instead of Annoy", lambda n: TsneRecipe(**pca, neighbors="pynndescent")),
        "perplexity10": ("perplexity 10 (30 neighbours, not 90)", lambda n: TsneRecipe(perplexity=10)),
        "short": ("125 + 250 steps", lambda n: TsneRecipe(**short)),
        "shorter": ("60 + 120 steps", lambda n: TsneRecipe(exaggeration_iter=60, n_iter=120)),
        "spectral": ("125 + 250 steps, spectral start", lambda n: Trial(TsneRecipe(**short), spectral=True)),
        "sample": ("a seeded tenth fitted (125 + 250 steps), the rest placed at their neighbours, then 100 steps of "
                   "all", lambda n: Trial(TsneRecipe(exaggeration_iter=125, n_iter=100), sample=n // 10,
                                          sample_iter=250)),
        "short-pca128": ("PCA 128, 125 + 250 steps", lambda n: TsneRecipe(pca_dims=128, **short)),
        "product": ("the product above LARGE_MAP_POINTS (`LARGE_MAP`): PCA 128, perplexity 10, 60 + 120 steps",
                    lambda n: LARGE_MAP),
    }  # fmt: skip


def _peak_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident memory


def _peak() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(ln.split()[1]) * 1024 for ln in status if ln.startswith("VmHWM"))


@dataclass(frozen=True)
class Trial:
    """A start the product does not take, measured in "Faster maps": a spectral one, or a seeded ``sample`` of
    the points fitted first (``recipe.exaggeration_iter`` + ``sample_iter`` steps), every other point placed at
    the weighted mean of its affinity neighbours already placed, then ``recipe.n_iter`` steps of all."""

    recipe: object  # a TsneRecipe
    spectral: bool = False
    sample: int = 0
    sample_iter: int = 500


def _place(P, fit: np.ndarray, fitted: np.ndarray, rounds: int = 20) -> np.ndarray:
    """Positions for every row of the affinity matrix ``P`` (n, n): ``fitted`` (len(fit), 2) for rows ``fit``, every
    other row at the affinity-weighted mean of its neighbours placed so far (rows without any: the origin)."""
    coords = np.zeros((P.shape[0], fitted.shape[1]))
    coords[fit] = fitted
    placed = np.zeros(P.shape[0], dtype=bool)
    placed[fit] = True
    P = P.tocsr()
    for _ in range(rounds):  # a row none of whose neighbours is placed waits for the next round
        rest = np.flatnonzero(~placed)
        if not len(rest):
            break
        W = P[rest]
        weight = np.asarray(W @ placed.astype(np.float64)).reshape(-1)
        reached = weight > 0
        if not reached.any():
            break
        total = W[reached] @ (coords * placed[:, None])
        coords[rest[reached]] = total / weight[reached, None]
        placed[rest[reached]] = True
    return coords


def _trial(X: np.ndarray, trial: Trial) -> np.ndarray:
    from openTSNE import initialization

    from xlmr_demo.projection import tsne_affinities, tsne_optimise

    recipe, n = trial.recipe, len(X)
    Z, A = tsne_affinities(X, recipe, verbose=True)
    if trial.spectral:
        start = initialization.spectral(A.P, random_state=0)
        return tsne_optimise(start, A, [(recipe.exaggeration_iter, 12), (recipe.n_iter, 1)], verbose=True)
    fit = np.sort(np.random.default_rng(0).choice(n, trial.sample, replace=False))
    _, sampled = tsne_affinities(Z[fit], recipe)
    fitted = tsne_optimise(
        initialization.pca(Z[fit], random_state=0), sampled, [(recipe.exaggeration_iter, 12), (trial.sample_iter, 1)]
    )
    # a t-SNE map's area grows with its points: spread the placement to the size the whole map will have
    start = _place(A.P, fit, fitted) * np.sqrt(n / len(fit))
    return tsne_optimise(start, A, [(recipe.n_iter, 1)], verbose=True)


def _tsne_step(centred: np.ndarray, recipe) -> np.ndarray:
    from xlmr_demo.projection import tsne_2d

    if recipe is None:
        import openTSNE

        return np.asarray(openTSNE.TSNE(metric="cosine", n_jobs=-1, random_state=0).fit(centred))
    if isinstance(recipe, Trial):
        return _trial(centred, recipe)
    return tsne_2d(centred, recipe, seed=0, verbose=True)


def steps(X: np.ndarray, languages: list[str], pairs: list[str], sizes: list[int], only: list[str]) -> None:
    """Measure the steps ``only`` at each of ``sizes`` points; add them to STEPS_JSON, rewrite "Faster maps"."""
    from encode import timed

    from xlmr_demo.projection import center_languages, neighbour_rate

    records = json.loads(STEPS_JSON.read_text()) if STEPS_JSON.is_file() else []
    recipes = step_recipes()
    for size in sizes:
        if size <= len(X):  # a seeded subset of the embedded rows
            rows = np.sort(np.random.default_rng(0).choice(len(X), size, replace=False)) if size < len(X) else None
            points = X if rows is None else X[rows]
            langs = languages if rows is None else [languages[i] for i in rows]
            groups = [(pairs if rows is None else [pairs[i] for i in rows])[i] or None for i in range(size)]
        else:
            points, langs, big_pairs, _ = noisy_copies(X, languages, pairs, size)
            groups = [p or None for p in big_pairs]
        centred = center_languages(points, langs)
        maps = {}
        for name in only:  # the maps first, the rates after: a run stopped half-way leaves its maps' times
            recipe = recipes[name][1](size)
            print(f"[{size:,} points] {name}: {recipe}", file=sys.stderr, flush=True)
            _peak_reset()
            timing, coords = timed(partial(_tsne_step, centred, recipe))
            maps[name] = recipe, timing, coords, _peak()
            print(f"[{size:,} points] {name}: {timing.seconds:.0f} s, {timing.cpu} cores", file=sys.stderr, flush=True)
            np.save(SPLIT.parent / f"xlmr-scale-{size}-{name}.npy", coords)
        del centred
        if not any(r["size"] == size and r["step"] == "full" for r in records):
            timing, full = timed(partial(neighbour_rate, points, langs, groups))
            records.append({"size": size, "step": "full", "rate": full, "seconds": timing.seconds})
        full = next(r["rate"] for r in records if r["size"] == size and r["step"] == "full")
        for name, (recipe, timing, coords, peak) in maps.items():
            rate = neighbour_rate(coords, langs, groups)
            record = {"size": size, "step": name, "seconds": timing.seconds, "cpu": timing.cpu, "rate": rate,
                      "kept": rate / full, "peak_gib": peak / 2**30, "recipe": repr(recipe)}  # fmt: skip
            print(json.dumps(record), file=sys.stderr, flush=True)
            records = [r for r in records if (r["size"], r["step"]) != (size, name)] + [record]
            STEPS_JSON.write_text(json.dumps(records, indent=1) + "\n")
    replace_section(FASTER_MAPS, steps_section(records))


def steps_section(records: list[dict]) -> list[str]:
    sizes = sorted({r["size"] for r in records})
    full = {r["size"]: r["rate"] for r in records if r["step"] == "full"}
    found = {(r["size"], r["step"]): r for r in records}

    def cell(size: int, name: str) -> str:
        r = found.get((size, name))
        return f"{r['seconds']:.0f} s, {r['rate']:.1%} ({r['kept']:.0%}), {r['peak_gib']:.1f} GiB" if r else "not run"

    return [
        FASTER_MAPS,
        "",
        "`python bench/scale.py --maps-from one.npy --steps 20000 200000 1000000 --only STEP...`: the t-SNE of the "
        "centred rows alone (centring, duplicates and the rate not counted) at each size: 20,000 and 200,000 are the "
        "embedded rows (a seeded 20,000 of them), 1,000,000 the embedded rows 5 times, with noise. Each cell: "
        "seconds on 2 cores, the translation-neighbour rate on the map, in brackets as a share of the rate in full "
        "dimensions, and peak resident memory of the process. A sample of 20,000 holds fewer copies of each sentence's "
        "translations, hence its lower rate in full dimensions. A `product` cell written by a map section above is "
        "its t-SNE stage (duplicates removed first). `nndescent` includes compiling pynndescent "
        "(numba). Not run here: `default` at 200,000 points (the map of 2026-11-30: 239 s in a clean run, 440 s "
        "beside another job, 106% kept) and at 1,000,000 (stopped after 27 minutes).",
        "",
        "| step | " + " | ".join(f"{s:,} points" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        "| rate in full dimensions | " + " | ".join(f"{full[s]:.1%}" if s in full else "" for s in sizes) + " |",
        *(
            f"| `{name}`: {what} | " + " | ".join(cell(s, name) for s in sizes) + " |"
            for name, (what, _) in step_recipes().items()
            if any((s, name) in found for s in sizes)
        ),
        "",
        "What decided `LARGE_MAP`: the optimisation steps and the neighbour search are the time; PCA to 50 "
        "dimensions lost a fifth of the map's translations at 20,000 points, PCA to 128 none; exact neighbours and "
        "pynndescent were no better than Annoy; placing points around a fitted sample kept the fewest. Fewer steps "
        "(60 + 120) with 30 neighbours (perplexity 10) and PCA 128 keep more than the full dimensions at 20,000 and "
        "200,000 points in a fifth to a third of the time; below 20,000 points the product keeps openTSNE as it "
        "comes, which keeps the most.",
        "",
    ]


def map_sections() -> dict[str, list[str]]:
    """The two map sections of scale.md as they are ("rows": the embedded rows; "copies": their noisy copies)."""
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    found = {}
    for key, start in (("rows", "### The embedded rows:"), ("copies", "### The embedded rows ")):
        heads = (i for i, ln in enumerate(lines) if ln.startswith(start) and (key == "rows" or "times" in ln))
        first = next(heads, None)
        if first is not None:
            end = next((i for i in range(first + 1, len(lines)) if lines[i].startswith(("## ", "### "))), len(lines))
            found[key] = lines[first:end]
    return found


def replace_section(title: str, section: list[str]) -> None:
    """Put ``section`` in scale.md in place of the one headed ``title`` (before "On paper" if there is none)."""
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    if title in lines:
        start = lines.index(title)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        start = end = next((i for i, line in enumerate(lines) if line.startswith("## On paper")), len(lines))
    save(lines[:start] + section + lines[end:])


def save(lines: list[str]) -> None:
    """The results so far (a long run writes each section as it ends)."""
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _peer_nearest(X: np.ndarray, languages: np.ndarray, metric: str, rows: np.ndarray) -> np.ndarray:
    """The translation-rate stage as it was: scikit-learn's distances of 33 rows (at a million points) to all."""
    from sklearn.metrics import pairwise_distances

    nearest = np.empty(len(rows), dtype=np.int64)
    size = max(1, min(2048, 2**25 // len(X)))
    for start in range(0, len(rows), size):
        block = rows[start : start + size]
        d = pairwise_distances(X[block], X, metric=metric)
        d[languages[block, None] == languages[None, :]] = np.inf
        nearest[start : start + size] = d.argmin(axis=1)
    return nearest


def rate_stage(sizes: list[int], peer_up_to: int = 200_000) -> None:
    """Time the translation-rate stage (projection._nearest_other_language) for 20,000 measured rows among
    ``sizes`` random unit vectors of the product's shape (384 dimensions, 8 languages), then 2D points, against
    the scikit-learn peer (up to ``peer_up_to`` points); print a Markdown table."""
    from xlmr_demo.projection import MEASURED_ROWS, _nearest_other_language

    rng = np.random.default_rng(0)
    print("| points | space | scikit-learn (before) | now | ratio |\n|---|---|---|---|---|")
    for n in sizes:
        languages, rows = rng.integers(0, 8, n), np.sort(rng.choice(n, MEASURED_ROWS, replace=False))
        for dims, metric in ((384, "cosine"), (2, "euclidean")):
            X = rng.normal(size=(n, dims)).astype(np.float32)
            X /= np.linalg.norm(X, axis=1, keepdims=True) if dims > 2 else 1
            started = time.perf_counter()
            found = _nearest_other_language(X, languages, metric, rows)
            now = time.perf_counter() - started
            before, ratio = "not run", ""
            if n <= peer_up_to:
                started = time.perf_counter()
                assert (_peer_nearest(X, languages, metric, rows) == found).all()
                seconds = time.perf_counter() - started
                before, ratio = f"{seconds:.1f} s", f"{seconds / now:.1f}x"
            print(f"| {n:,} | {dims} dimensions | {before} | {now:.1f} s | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--map-points", type=int, default=1_000_000)
    parser.add_argument(
        "--maps-from", type=Path, help="the one-process .npy of an earlier run with the same --rows: map it again, "
        "keeping that run's embedding section of scale.md",
    )  # fmt: skip
    parser.add_argument(
        "--steps", type=int, nargs="+", metavar="POINTS", help="with --maps-from: measure the t-SNE speed-ups "
        "(--only) at these sizes into bench/results/scale_steps.json and scale.md's 'Faster maps', and stop",
    )  # fmt: skip
    parser.add_argument(
        "--maps", choices=("both", "rows", "copies"), default="both", help="which map to measure again: the embedded "
        "rows, their noisy copies or both (the other's section is kept from scale.md; each takes minutes)",
    )  # fmt: skip
    parser.add_argument(
        "--split", action="store_true", help="stop each map after its t-SNE (saved in the temporary folder); the "
        "same command again measures the other stages from there: two runs of a few minutes instead of one long",
    )  # fmt: skip
    parser.add_argument("--only", nargs="+", default=["default", "pca50", "short", "sample", "product"])
    parser.add_argument(
        "--rate-stage", type=int, nargs="+", metavar="POINTS", help="time the translation-rate stage alone at these "
        "sizes against scikit-learn's distances (random points of the product's shape; a table on stdout), and stop",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rate_stage:
        rate_stage(args.rate_stage)
        return
    if args.steps:
        if not args.maps_from:
            parser.error("--steps needs --maps-from")
        steps(np.load(args.maps_from), *labels(args.rows), args.steps, args.only)
        return
    import torch

    from xlmr_demo.precision import cpu as cpu_info

    cpu = cpu_info()[0] or "?"
    out = [
        "# Scale (`bench/scale.py`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, torch {torch.__version__}; embedded model, `precision=auto`",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="xlmr-scale-") as tmp:
        folder = Path(tmp)
        os.environ["XLMR_DEMO_CACHE"] = str(folder / "cache")  # the model is materialised here once
        if args.maps_from:
            _, _, languages, pairs = write_inputs(folder, args.rows)
            X = np.load(args.maps_from)
            earlier = RESULTS.read_text(encoding="utf-8").split("\n## Maps")[0].splitlines()
            when = next(line for line in earlier if line.startswith("- Date"))
            lines = earlier[next(i for i, line in enumerate(earlier) if line.startswith("## Embedding")) :]
            while lines and (not lines[-1] or lines[-1].startswith("(The embedding section is from")):
                lines.pop()  # the note of an earlier --maps-from run
            lines += ["", f"(The embedding section is from an earlier run of this script: {when[2:].split(';')[0]}.)"]
            facts = {"single_s": float(lines[4].split("|")[2]), "ray_s": float(lines[5].split("|")[2])}
        else:
            lines, facts, X, languages, pairs = embedding(folder, args.rows)
        earlier_maps = map_sections() if args.maps != "both" else {}
        out += [*lines, "", "## Maps: time per stage", ""]
        save(out)
        if args.maps in ("both", "rows"):
            out += map_stages(X, languages, pairs, folder, "The embedded rows", split=args.split)
        else:
            out += earlier_maps.get("rows", [])
        save(out)
        if args.maps in ("both", "copies"):
            noisy, big_languages, big_pairs, copies = noisy_copies(X, languages, pairs, args.map_points)
            label = f"The embedded rows {copies} times, with noise"
            out += map_stages(noisy, big_languages, big_pairs, folder, label, split=args.split)
            del noisy
        else:
            out += earlier_maps.get("copies", [])
    if STEPS_JSON.is_file():
        out += steps_section(json.loads(STEPS_JSON.read_text()))
    per_core = args.rows / facts["single_s"] / (os.cpu_count() or 1)
    out += [
        "## On paper: 10 million rows",
        "",
        f"Measured here: {per_core:,.0f} rows per second per core in one process; the local Ray cluster ran at "
        f"{facts['single_s'] / facts['ray_s']:.2f}x that on the same 2 cores. Ray adds machines, not speed per core: "
        "10,000,000 rows on N machines of C cores take about 10,000,000 / (rate per core x C x N) seconds, "
        "plus a minute to start and load the model on each worker.",
        "",
        "| machines x cores | hours (at the rate measured here) |",
        "|---|---|",
        *(
            f"| {n} x {c} | {10_000_000 / (per_core * c * n) / 3600:.1f} |"
            for n, c in ((1, 2), (1, 16), (4, 16), (16, 16))
        ),
        "",
        "A map is made on one machine: its t-SNE grows about linearly with the points (the two map sections above), "
        "so 10 million points would take ten times the million-point map; past a few million, map a seeded sample.",
    ]
    save(out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
