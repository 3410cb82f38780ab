"""Words, tables and pictures of the "Inside the model" tab (and the ``tokens``/``layers`` commands).

Plain data in (:mod:`xlmr_demo.tokens`, :mod:`xlmr_demo.layers`, :mod:`xlmr_demo.fill_mask`), what a
page shows out: Markdown, table rows, Plotly figures. The words explain the figures to someone who has
never heard of a tokenizer.
"""

from __future__ import annotations

import html
import re

import plotly.graph_objects as go

from .fill_mask import Filled, Guess
from .layers import LayerSweep, layer_name
from .plots import PALETTE
from .tokens import Pieces, Reading
from .views import cell

PIECE_COLOURS = {"starts a word": "#9ecae1", "inside a word": "#fdd0a2", "unknown": "#fb6a4a"}

EXPLANATIONS = {
    "pieces": (
        "The model never sees letters or words: it sees **pieces** from a vocabulary of about 250,000 shared by "
        "a hundred languages. Blue pieces begin a word; orange ones continue it. A word the vocabulary holds "
        "whole is one piece; a rarer word is spelled out in several. Red: a character the vocabulary lacks, "
        "which the model cannot read at all."
    ),
    "reading": (
        "**Pieces per word** (fertility): how finely the model cuts each language's words. The vocabulary was "
        "learnt from text in every language at once, so languages with more training text, or an alphabet "
        "shared with many others, got more whole words in it. **Rows cut**: the model reads a fixed number of "
        "pieces per row and drops the rest, so a language cut into more pieces loses more of a long row."
    ),
    "layers": (
        "Thick line: how often a row's most similar row **in another language** is its translation, at each "
        "depth of the model (the word embeddings, then each layer). Low layers know which pieces a text has; "
        "higher ones what it means, which is where languages meet. Shaded: the 95% range of the overall figure. "
        "Dotted: the same with each language's average vector taken out (a shift shared by every sentence of a "
        "language hides meaning from a plain comparison but not from this one). Thin lines: each language pair "
        "(click the legend to show or hide one)."
    ),
    "fill_mask": (
        "XLM-R learnt its hundred languages by guessing hidden pieces of text (masked language modelling). "
        "Type a sentence in any language with `<mask>` where a word is hidden, and see the model's guesses: "
        "the task it was pre-trained on, live. Blanks are guessed one at a time, each as if it were the only one."
    ),
}


#: Pieces a page highlights: a 100,000-character paste is ~30,000 pieces, more than a browser shows usefully.
SHOWN_PIECES = 2_000


def piece_segments(found: Pieces) -> list[tuple[str, str | None]]:
    """The text for a highlighted-text box: each piece marked by what it is (the first :data:`SHOWN_PIECES`)."""
    return found.segments(SHOWN_PIECES)


def pieces_summary(found: Pieces) -> str:
    n = len(found.pieces)
    words = f" for {found.words:,} word(s) ({n / found.words:.2f} pieces per word)" if found.words else ""
    cut = ""
    room = found.max_length - found.overhead
    if n > room:
        cut = f" **The model reads only the first {room:,} of them**: the rest of the text is cut."
    unknown = sum(p.kind == "unknown" for p in found.pieces)
    lacking = f" {unknown} piece(s) stand for characters the vocabulary lacks (red)." if unknown else ""
    listing = " · ".join(f"`{cell(p.piece, 30)}`" for p in found.pieces[:200])
    more = f" … ({n - 200:,} more)" if n > 200 else ""
    return (
        f"**{n:,} piece{'' if n == 1 else 's'}**{words}, plus {found.overhead} the model adds to every text (its "
        f"prompt and the start and end markers); it reads at most {found.max_length:,} in all.{cut}{lacking}"
        f"\n\n{listing}{more}"
    )


def _name(code: str) -> str:
    return html.escape(cell(code, 30))


def reading_headers(found: Reading) -> list[str]:
    same = [f"pieces for the same meanings ({cell(found.reference, 20)} = 1)"] if found.reference else []
    return [
        "language", "rows", "pieces per word", "pieces per 100 characters", *same, "words read of a long row",
        "rows cut", "unknown characters",
    ]  # fmt: skip


def reading_rows(found: Reading) -> list[list]:
    rows = []
    for r in found.languages:
        per_word = f"{r.tokens_per_word:.2f}" if r.tokens_per_word else "— (no spaces between words)"
        same = [f"{r.relative_cost:.2f}" if r.relative_cost else "—"] if found.reference else []
        read = found.words_read(r)
        rows.append([
            cell(r.language, 30), r.rows, per_word, f"{r.tokens_per_100_characters:.1f}", *same,
            f"about {read:,}" if read else "—", f"{r.cut_share:.1%} ({r.cut_rows:,})", f"{r.unknown_share:.2%}",
        ])  # fmt: skip
    return rows


#: Rows a language needs before the words compare it with others.
CLAIM_ROWS = 5
#: Below this many times the reference language's pieces for the same meanings, a language costs about the same.
SAME_COST = 1.05


def reading_words(found: Reading) -> str:
    """Why some languages cost more and lose more, in plain words, from this file's own figures."""
    langs = [r for r in found.languages if r.rows >= CLAIM_ROWS]  # a claim about a language rests on some rows
    room = found.max_length - found.overhead
    lines = [
        f"The model ({cell(found.model, 60)}) cuts text into pieces from a vocabulary of {found.vocabulary:,} "
        f"shared by all its languages, and reads at most {room:,} pieces of a row (after its {found.overhead} "
        "own)."
    ]
    compared = [r for r in langs if r.relative_cost and r.language != found.reference]
    costly = max(compared, key=lambda r: r.relative_cost) if compared else None
    if costly and costly.relative_cost < SAME_COST:
        cheap = min(compared, key=lambda r: r.relative_cost)
        if cheap is costly:
            who, spread = f"{_name(costly.language)} needs", f"{costly.relative_cost:.2f}"
        else:
            who, spread = "every language here needs", f"{cheap.relative_cost:.2f} to {costly.relative_cost:.2f}"
        lines.append(
            f"For the same meanings, {who} about as many pieces as {_name(found.reference)} or fewer ({spread} times)."
        )
    elif costly:
        cheap = min(compared, key=lambda r: r.relative_cost)
        also = f" ({_name(cheap.language)}: {cheap.relative_cost:.2f} times)" if cheap is not costly else ""
        lines.append(
            f"**For the same meanings, {_name(costly.language)} needs {costly.relative_cost:.2f} times the pieces "
            f"{_name(found.reference)} needs**{also}. The vocabulary was learnt from text in every language at "
            "once; languages with more of that text, or an alphabet many languages share, got more whole words in "
            "it, and the others are spelled out in smaller pieces. The model reads the same number of pieces in "
            "every language, so it reads less of a long row in a costly one."
        )
    worded = sorted((r for r in langs if r.tokens_per_word), key=lambda r: r.tokens_per_word)
    if len(worded) >= 2 and worded[-1].tokens_per_word > 1.15 * worded[0].tokens_per_word:
        cheap, costly = worded[0], worded[-1]
        why = "" if compared else (
            " The vocabulary was learnt from text in every language at once; languages with more of that text, or "
            "an alphabet many languages share, got more whole words in it, and the others are spelled out in "
            "smaller pieces."
        )  # fmt: skip
        lines.append(
            f"{'Per word: ' if compared else '**'}{_name(costly.language)} words are cut into "
            f"{costly.tokens_per_word:.2f} pieces on average, {_name(cheap.language)} words into "
            f"{cheap.tokens_per_word:.2f}{'' if compared else '.**'}{',' if compared else ''}{why}"
            f"{' so' if compared else ' So'} the model reads about {found.words_read(cheap):,} words of a long "
            f"{_name(cheap.language)} row but only about {found.words_read(costly):,} of a {_name(costly.language)} "
            "one before it stops."
        )
    cut = [r for r in langs if r.cut_rows]
    if cut:
        most = max(cut, key=lambda r: r.cut_share)
        least = min(langs, key=lambda r: r.cut_share)
        lines.append(
            f"**{most.cut_share:.1%} of the {_name(most.language)} rows are longer than the model reads** "
            f"({most.cut_rows:,} of {most.rows:,}), against {least.cut_share:.1%} of the {_name(least.language)} "
            "rows: their ends are never seen, for training, maps and predictions alike. A language that needs more "
            "pieces for the same text reaches the limit sooner."
        )
    else:
        lines.append("No row is cut: every row fits in what the model reads.")
    unknown = [r for r in langs if r.unknown_share >= 0.01]
    if unknown:
        worst = max(unknown, key=lambda r: r.unknown_share)
        lines.append(
            f"{worst.unknown_share:.1%} of the {_name(worst.language)} pieces stand for characters the vocabulary "
            "lacks: the model reads them all as one and the same unknown piece."
        )
    if any(r.tokens_per_word is None for r in found.languages):
        lines.append(
            "Languages written without spaces between words (Chinese, Japanese, Thai, ...) have no words to "
            "count: compare them by pieces per 100 characters."
        )
    few = [_name(r.language) for r in found.languages if r.rows < CLAIM_ROWS]
    if few:
        lines.append(
            f"Languages with fewer than {CLAIM_ROWS} rows ({', '.join(few[:10])}{', ...' if len(few) > 10 else ''}) "
            "are in the table but too few to compare here."
        )
    return "\n\n".join(lines)


def reading_figure(found: Reading) -> go.Figure:
    """Pieces per word (per 100 characters where a language has no spaces) and rows cut, per language."""
    from plotly.subplots import make_subplots

    langs = found.languages
    names = [_name(r.language) for r in langs]
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.08,
        subplot_titles=("Pieces per word (▨: per 100 characters / 10)", "Rows cut at the model's limit"),
    )  # fmt: skip
    per_word = [r.tokens_per_word if r.tokens_per_word else r.tokens_per_100_characters / 10 for r in langs]
    fig.add_trace(
        go.Bar(
            x=per_word, y=names, orientation="h", marker_color=PALETTE[0], texttemplate="%{x:.2f}",
            marker_pattern_shape=["" if r.tokens_per_word else "/" for r in langs], showlegend=False,
            hovertemplate="%{y}: %{x:.2f}<extra></extra>",
        ), 1, 1,
    )  # fmt: skip
    fig.add_trace(
        go.Bar(
            x=[r.cut_share for r in langs], y=names, orientation="h", marker_color=PALETTE[1],
            texttemplate="%{x:.1%}", showlegend=False, hovertemplate="%{y}: %{x:.1%} of rows cut<extra></extra>",
        ), 1, 2,
    )  # fmt: skip
    fig.update_xaxes(tickformat=".0%", row=1, col=2, rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(280, 34 * len(langs) + 120), margin={"t": 60, "b": 20})
    return fig


def _percent(value: float) -> str:
    return f"{value:.0%}" if value < 0.995 or value == 1 else f"{value:.1%}"  # 99.6%, never a rounded 100%


def layer_words(sweeps: dict[str, LayerSweep]) -> str:
    """The headline: at which depth the file's languages line up, and how sure that is."""
    lines = []
    for title, sweep in sweeps.items():
        best, up, first = sweep.best, sweep.lined_up(), sweep.scores[0]
        top = len(sweep.scores) - 1
        ci = f" (95% range {_percent(up.ci[0])}–{_percent(up.ci[1])})" if up.ci else ""
        subject = f"{title}: the languages" if len(sweeps) > 1 else "The languages"
        where = "already at the word embeddings" if up.layer == 0 else f"at {layer_name(up.layer)} of {top}"
        lines.append(
            f"**{subject} of this file line up {where}**: from there a "
            f"row's most similar row in another language is its translation {_percent(up.accuracy)} of the time"
            f"{ci}, up from {_percent(first.accuracy)} at the word embeddings; the best depth is "
            f"{layer_name(best.layer)} ({_percent(best.accuracy)}) and the last layer, the model's sentence "
            f"vector, gives {_percent(sweep.scores[-1].accuracy)}. Measured on {sweep.queries:,} lookups among "
            f"{sweep.rows:,} rows."
        )
        pairs = best.per_pair
        if len(pairs) > 1 and min(pairs.values()) < max(pairs.values()):
            worst = min(pairs, key=pairs.get)
            lines.append(
                f"Hardest pair at {layer_name(best.layer)}: {_name(worst)} ({_percent(pairs[worst])}, "
                f"{sweep.per_pair_queries[worst]:,} lookups)."
            )
        if first.centred > first.accuracy + 0.1:
            lines.append(
                f"With each language's average vector taken out, the word embeddings already find "
                f"{_percent(first.centred)}: much of what the low layers miss is a shift shared by every sentence "
                "of a language, not missing meaning."
            )
        lines.extend(f"ℹ️ {cell(n, 300)}" for n in dict.fromkeys(sweep.notes))
    return "\n\n".join(lines)


#: Language pairs drawn one line each; beyond this, one line per language (its lookups into every other).
MAX_PAIR_LINES = 10


def layer_figure(sweeps: dict[str, LayerSweep]) -> go.Figure:
    """Translation retrieval per layer: overall (with its 95% band), per language, centred; one model or two."""
    fig = go.Figure()
    for index, (title, sweep) in enumerate(sweeps.items()):
        x = [layer_name(s.layer) for s in sweep.scores]
        colour = PALETTE[index % len(PALETTE)]
        prefix = f"{title}: " if len(sweeps) > 1 else ""
        lows = [s.ci[0] if s.ci else s.accuracy for s in sweep.scores]
        highs = [s.ci[1] if s.ci else s.accuracy for s in sweep.scores]
        fig.add_trace(go.Scatter(
            x=x + x[::-1], y=highs + lows[::-1], fill="toself", fillcolor=colour, opacity=0.15, line_width=0,
            hoverinfo="skip", showlegend=False,
        ))  # fmt: skip
        fig.add_trace(go.Scatter(
            x=x, y=[s.accuracy for s in sweep.scores], name=f"{prefix}all languages", mode="lines+markers",
            line={"color": colour, "width": 4}, hovertemplate="%{x}: %{y:.1%}<extra>all languages</extra>",
        ))  # fmt: skip
        fig.add_trace(go.Scatter(
            x=x, y=[s.centred for s in sweep.scores], name=f"{prefix}language averages taken out",
            mode="lines", line={"color": colour, "width": 2, "dash": "dot"},
            hovertemplate="%{x}: %{y:.1%}<extra>averages taken out</extra>",
        ))  # fmt: skip
        if index == 0:  # a thin line per language pair (per language where pairs are too many to tell apart)
            pairs = len(sweep.per_pair_queries) <= MAX_PAIR_LINES
            series = list(sweep.per_pair_queries if pairs else sweep.per_language_queries)
            for n, key in enumerate(series):
                values = [(s.per_pair if pairs else s.per_language).get(key) for s in sweep.scores]
                fig.add_trace(go.Scatter(
                    x=x, y=values, name=_name(key) if pairs else f"from {_name(key)}", mode="lines",
                    line={"color": PALETTE[(n + 2) % len(PALETTE)], "width": 1},
                    visible="legendonly" if len(series) > 6 else True,
                    hovertemplate=f"%{{x}}: %{{y:.1%}}<extra>{_name(key)}</extra>",
                ))  # fmt: skip
    fig.update_layout(
        title="How often a row's nearest row in another language is its translation, layer by layer",
        height=460, legend={"orientation": "h", "y": -0.2}, margin={"t": 60},
    )  # fmt: skip
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title="translation found")
    fig.update_xaxes(title="depth in the model")
    return fig


def layer_headers(sweeps: dict[str, LayerSweep]) -> list[str]:
    first = next(iter(sweeps.values()))
    model = ["model"] if len(sweeps) > 1 else []
    return [*model, "languages", "lookups", *(layer_name(s.layer) for s in first.scores)]


def layer_rows(sweeps: dict[str, LayerSweep]) -> list[list]:
    """One row per language pair (and one for all languages), one column per depth."""
    rows = []
    for title, sweep in sweeps.items():
        model = [title] if len(sweeps) > 1 else []
        rows.append([*model, "all", sweep.queries, *(f"{s.accuracy:.1%}" for s in sweep.scores)])
        for pair, n in sweep.per_pair_queries.items():
            rows.append([*model, cell(pair, 60), n, *(f"{s.per_pair[pair]:.1%}" for s in sweep.scores)])
    return rows


def _guess(guess: Guess) -> str:
    """A guess as shown: a piece that continues a word (no space before it) is marked "…capital"."""
    return (guess.text or "(space)") if guess.starts_word else f"…{guess.text}"


def fill_label(filled: Filled) -> dict[str, float]:
    """The first blank's guesses, for a label box (a word and the same letters inside a word kept apart)."""
    return {_guess(g): g.probability for g in filled.blanks[0]}


def _probability(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


def _markdown(text: str) -> str:
    """Text shown as itself in Markdown: HTML and Markdown's marks escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-!|~>])", r"\\\1", html.escape(text, quote=False))


def fill_words(filled: Filled) -> str:
    lines = [f"**{_markdown(cell(filled.best, 500))}**"]
    if len(filled.blanks) > 1:
        lines.append("| blank | guesses (probability) |\n|---|---|")
        for n, guesses in enumerate(filled.blanks, 1):
            shown = ", ".join(f"{_markdown(cell(_guess(g), 30))} ({_probability(g.probability)})" for g in guesses)
            lines.append(f"| {n} | {shown} |")
    return "\n".join(lines[:1]) + ("\n\n" + "\n".join(lines[1:]) if len(lines) > 1 else "")
