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
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
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


def map_stages(X: np.ndarray, languages: list[str], pairs: list[str], folder: Path, label: str) -> list[str]:
    from encode import timed  # bench/encode.py: wall time and the CPU used by this process and by others

    from xlmr_demo.maps import MapData, MapResult, write_coords
    from xlmr_demo.plots import DENSITY_FROM
    from xlmr_demo.projection import Projection, ProjectionConfig, center_languages, neighbour_rate, project
    from xlmr_demo.views import map_figure

    times = []

    def stage(name: str, fn):
        timing, out = timed(fn)
        times.append((name, timing))
        return out

    groups = [p or None for p in pairs]
    centred = stage("centre each language", lambda: center_languages(X, languages))
    config = ProjectionConfig(center_languages=False)
    projection = stage("remove duplicates, t-SNE (openTSNE, 2D)", lambda: project(centred, config, cache=False))
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
        + f"Page: {html.stat().st_size / 1e6:.1f} MB.",
        "",
    ]


def save(lines: list[str]) -> None:
    """The results so far (a long run writes each section as it ends)."""
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--map-points", type=int, default=1_000_000)
    parser.add_argument(
        "--maps-from", type=Path, help="the one-process .npy of an earlier run with the same --rows: map it again, "
        "keeping that run's embedding section of scale.md",
    )  # fmt: skip
    args = parser.parse_args()
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
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
            lines += ["", f"(The embedding section is from an earlier run of this script: {when[2:].split(';')[0]}.)"]
            facts = {"single_s": float(lines[4].split("|")[2]), "ray_s": float(lines[5].split("|")[2])}
        else:
            lines, facts, X, languages, pairs = embedding(folder, args.rows)
        out += [*lines, "", "## Maps: time per stage", ""]
        save(out)
        out += map_stages(X, languages, pairs, folder, "The embedded rows")
        save(out)
        copies = -(-args.map_points // len(X))
        rng = np.random.default_rng(0)
        noisy = np.concatenate([X + rng.normal(0, 0.01, X.shape).astype(np.float32) for _ in range(copies)])
        noisy = noisy[: args.map_points]
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        big_languages = (languages * copies)[: args.map_points]
        big_pairs = (pairs * copies)[: args.map_points]
        out += map_stages(noisy, big_languages, big_pairs, folder, f"The embedded rows {copies} times, with noise")
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
