"""Inside the model on Tatoeba: where languages meet layer by layer, and what each language costs in pieces.

    python bench/layers.py [--data DIR] [--model NAME]

For every ``tatoeba.XXX-eng.XXX`` file in DIR (default ``../shared/data/tatoeba``; any other folder of such
files works, so languages kept from this repository are measured by the same command):

1. **Layer curve**: ``xlmr_demo.layers.layer_sweep``, the code the app's "Inside the model" tab and
   ``python -m xlmr_demo layers`` run, on the language's 1,000 pairs (a group per pair): translation
   retrieval at every layer, both directions pooled, with its 95% interval. The peer, in the same run: the
   standard Tatoeba figure (nearest neighbour by cosine among the 1,000, both directions averaged;
   ``bench/encode.py``'s code) on the model's own sentence vectors, which the sweep's last layer must equal.
2. **Pieces**: ``xlmr_demo.tokens.reading`` on the same rows: pieces per word and per 100 characters, and
   the pieces a language needs for the same 1,000 meanings against English.

Writes ``bench/results/layers.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "layers.md"


def tatoeba_languages(folder: Path) -> list[str]:
    return sorted(p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng"))


def pair_data(folder: Path, lang: str):
    from xlmr_demo.maps import MapData

    foreign = (folder / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()
    english = (folder / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
    n = min(len(foreign), len(english))
    return MapData(foreign[:n] + english[:n], [lang] * n + ["eng"] * n, [str(i) for i in range(n)] * 2)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def standard_tatoeba(x: np.ndarray, y: np.ndarray) -> float:
    """bench/encode.py's figure: row i of x and y are translations; found by cosine, both directions averaged."""
    sim = x @ y.T
    gold = np.arange(len(x))
    return 0.5 * (np.mean(sim.argmax(1) == gold) + np.mean(sim.argmax(0) == gold))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "tatoeba")
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from xlmr_demo.encoders import embed, load_encoder
    from xlmr_demo.layers import layer_name, layer_sweep
    from xlmr_demo.tokens import reading

    encoder = load_encoder(args.model)
    languages = tatoeba_languages(args.data)
    started, cpu0 = time.monotonic(), time.process_time()
    sweeps, peers, readings = {}, {}, {}
    for lang in languages:
        data = pair_data(args.data, lang)
        sweeps[lang] = layer_sweep(data, encoder)
        n = len(data.texts) // 2
        vectors = embed(data.texts, encoder, cache=False).embeddings
        peers[lang] = standard_tatoeba(vectors[:n], vectors[n:])
        readings[lang] = {r.language: r for r in reading(data.texts, data.languages, encoder).languages}
        print(f"{lang}: last layer {sweeps[lang].scores[-1].accuracy:.3f}, standard {peers[lang]:.3f}", file=sys.stderr)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu0

    depth = len(next(iter(sweeps.values())).scores)
    lines = [
        "# Inside the model: languages layer by layer, and their pieces, on Tatoeba",
        "",
        f"`python bench/layers.py` on {cpu_model()}, "
        f"{os.cpu_count()} cores, model `{encoder.name}` ({encoder.precision}); {len(languages)} languages with "
        f"English from `{args.data.name}/`, 1,000 pairs each; {wall:.0f} s wall, {cpu:.0f} s CPU of this process.",
        "",
        "## 1. Translation retrieval at every layer (the code of the app's tab and `python -m xlmr_demo layers`)",
        "",
        "Share of rows whose most similar row in the other language is their translation, both directions pooled; "
        "mean-pooled hidden states (the embedded model's own pooling). Last column: the peer, Tatoeba's standard "
        "figure on the model's sentence vectors (`bench/encode.py`'s code), which the last layer must equal.",
        "",
        "| language | "
        + " | ".join(layer_name(k).replace("layer ", "L") for k in range(depth))
        + " | lines up at | standard Tatoeba |",
        "|---|" + "---|" * (depth + 2),
    ]
    for lang, sweep in sweeps.items():
        cells = " | ".join(f"{s.accuracy:.3f}" for s in sweep.scores)
        lines.append(f"| {lang} | {cells} | {layer_name(sweep.lined_up().layer)} | {peers[lang]:.3f} |")
    means = [np.mean([sw.scores[k].accuracy for sw in sweeps.values()]) for k in range(depth)]
    centred = [np.mean([sw.scores[k].centred for sw in sweeps.values()]) for k in range(depth)]
    lines += [
        "| **mean** | " + " | ".join(f"**{m:.3f}**" for m in means) + f" | | **{np.mean(list(peers.values())):.3f}** |",
        "| mean, language averages taken out | " + " | ".join(f"{m:.3f}" for m in centred) + " | | |",
        "",
        "95% intervals (meaning groups resampled) at the last layer: "
        + ", ".join(f"{lang} {sw.scores[-1].ci[0]:.3f}–{sw.scores[-1].ci[1]:.3f}" for lang, sw in sweeps.items())
        + ". *Lines up at*: the first layer reaching 90% of the best layer's figure.",
        "",
        "## 2. Pieces per language on the same rows (`xlmr_demo.tokens.reading`)",
        "",
        "| language | pieces per word | pieces per 100 characters | pieces for the same 1,000 meanings, English = 1 | "
        "English pieces per word in that file |",
        "|---|---|---|---|---|",
    ]
    for lang, found in readings.items():
        mine, english = found[lang], found["eng"]
        per_word = f"{mine.tokens_per_word:.2f}" if mine.tokens_per_word else "— (no spaces)"
        lines.append(
            f"| {lang} | {per_word} | {mine.tokens_per_100_characters:.1f} | {mine.tokens / english.tokens:.2f} | "
            f"{english.tokens_per_word:.2f} |"
        )
    lines += [
        "",
        "Tatoeba sentences are short (no row reaches the model's 512 pieces), so no row is cut here; "
        "`tests/test_inside.py` joins 52 sentences a row to show Hindi rows cut where their English "
        "translations are not.",
        "",
    ]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
