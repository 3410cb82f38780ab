"""Inside the model: its pieces per language, where languages meet layer by layer, and fill the blank.

Real model (the embedded one), real data (Tatoeba, the sample); the fill-the-blank head is a tiny model
built here, since the embedded model has none and tests never download one.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlmr_demo.errors import UserError
from xlmr_demo.inside_views import layer_figure, reading_words
from xlmr_demo.layers import layer_sweep, layer_vectors
from xlmr_demo.maps import MapData
from xlmr_demo.tokens import pieces, reading

from .conftest import tatoeba, write_csv


def parallel(languages: tuple[str, ...], n: int) -> MapData:
    """Tatoeba's first ``n`` pairs of each language with English, a group per pair."""
    texts, langs, groups = [], [], []
    for lang in languages:
        foreign, english = tatoeba(lang, n)
        texts += foreign + english
        langs += [lang] * n + ["eng"] * n
        groups += [f"{lang}{i}" for i in range(n)] * 2
    return MapData(texts, langs, groups)


def test_pieces_cover_the_text_mark_word_starts_and_name_what_the_vocabulary_lacks(encoder):
    text = "Die Katze schläft. 猫が寝ている。 ᚠ"
    found = pieces(text, encoder)
    assert "".join(chars for chars, _ in found.segments()) == text  # nothing lost, nothing doubled
    kinds = {p.piece: p.kind for p in found.pieces}
    assert kinds["▁Die"] == "starts a word" and kinds["ze"] == "inside a word"
    assert [p.text for p in found.pieces if p.kind == "unknown"] == ["ᚠ"]  # a rune: not in XLM-R's vocabulary
    assert found.overhead == 5 and found.max_length == 512  # "▁que", "ry", ":" and the start and end markers
    assert pieces("猫が寝ている。", encoder).words is None  # no spaces between words: no words to count
    long = pieces("Katzenklo " * 1000, encoder)  # a page shows the first pieces of a long paste, and says so
    assert len(long.pieces) > 2000 and long.segments(10)[-1] == (f" … and {len(long.pieces) - 10:,} more pieces", None)
    with pytest.raises(UserError, match="Type a text"):
        pieces("  ", encoder)


def test_a_hindi_row_is_cut_sooner_than_its_english_translation_and_the_encoder_cuts_the_same_rows(encoder):
    from xlmr_demo.encoders import embed

    hindi, english = tatoeba("hin")
    k = 52  # sentences a row: ~460 English pieces and ~540 Hindi ones, around the model's 506
    rows = [(" ".join(hindi[i : i + k]), " ".join(english[i : i + k])) for i in range(0, len(hindi) - k, k)]
    texts = [h for h, _ in rows] + [e for _, e in rows]
    langs = ["hi"] * len(rows) + ["en"] * len(rows)
    found = {r.language: r for r in reading(texts, langs, encoder).languages}
    hi, en = found["hi"], found["en"]
    assert hi.tokens > 1.1 * en.tokens  # the same meaning costs Hindi more pieces
    assert hi.cut_share > en.cut_share + 0.3
    assert hi.tokens_per_word > en.tokens_per_word
    truncated = embed(texts, encoder, cache=False).truncated_rows  # what embedding for training or maps cuts
    assert hi.cut_rows == sum(i < len(rows) for i in truncated) and en.cut_rows == len(truncated) - hi.cut_rows
    same = reading(texts, langs, encoder, groups=[str(i) for i in range(len(rows))] * 2)  # row i: one meaning
    assert same.reference == "en" and {r.language: r.relative_cost for r in same.languages}["hi"] > 1.1
    words = reading_words(same)  # why, in plain words, from these figures
    assert f"**For the same meanings, hi needs {hi.tokens / en.tokens:.2f} times the pieces en needs**" in words
    assert f"{hi.cut_share:.1%} of the hi rows are longer than the model reads" in words


def test_the_last_layer_is_the_models_own_sentence_vector(encoder):
    from xlmr_demo.encoders import embed

    texts = ["The cat sleeps.", "Le chat dort sur le canapé depuis ce matin.", "猫が寝ている。"]
    vectors = layer_vectors(encoder, texts)
    assert vectors.shape == (13, 3, 384)
    own = embed(texts, encoder, cache=False).embeddings
    assert np.min(np.sum(vectors[-1] * own, axis=1)) > 0.999  # mean pooling of the last layer, same prompt


def test_translations_line_up_in_the_higher_layers_and_not_by_chance(encoder):
    data = parallel(("deu", "hin"), 100)
    sweep = layer_sweep(data, encoder)
    first, last = sweep.scores[0], sweep.scores[-1]
    assert len(sweep.scores) == 13 and sweep.grouping == "column" and sweep.queries == 400
    assert first.accuracy < 0.5 < 0.9 < last.accuracy
    assert last.ci[0] <= last.accuracy <= last.ci[1] and last.ci[1] - last.ci[0] < 0.15
    assert set(last.per_pair) == {"deu – eng", "eng – hin"} and set(last.per_language) == {"deu", "eng", "hin"}
    assert 0 < sweep.lined_up().layer < 12
    drawn = [trace.name for trace in layer_figure({"embedded": sweep}).data]
    assert {"all languages", "deu – eng", "eng – hin"} <= set(drawn)  # the curve, and a line per language pair
    shuffled = list(np.random.default_rng(0).permutation(data.groups))  # every "translation" a stranger
    wrong = layer_sweep(MapData(data.texts, data.languages, shuffled), encoder)
    assert max(s.accuracy for s in wrong.scores) < 0.1


def test_without_a_group_column_translations_are_found_and_the_result_says_what_that_means(encoder):
    data = parallel(("fra",), 80)
    sweep = layer_sweep(MapData(data.texts, data.languages), encoder)
    assert sweep.grouping == "found" and any("by construction" in n for n in sweep.notes)
    assert sweep.scores[0].accuracy < sweep.scores[-1].accuracy


def fine_tuned_in_the_last_layer(encoder):
    """Weights that flatten the last layer's output (its LayerNorm's scale zeroed: every piece's vector becomes
    the same bias), as if fine-tuning had changed that layer only, and ruinously."""
    name = "encoder.layer.11.output.LayerNorm.weight"
    return {name: np.zeros(tuple(encoder.model[0].auto_model.state_dict()[name].shape), np.float32)}


def test_a_model_changed_in_its_last_layer_differs_there_only(encoder):
    data = parallel(("deu",), 100)
    before = layer_sweep(data, encoder)
    tuned = encoder.fine_tuned(fine_tuned_in_the_last_layer(encoder))
    after = layer_sweep(data, tuned, grouping="column")
    assert [s.accuracy for s in after.scores[:12]] == [s.accuracy for s in before.scores[:12]]
    assert before.scores[12].accuracy > 0.9 > 0.1 > after.scores[12].accuracy


def test_a_file_in_one_language_has_nothing_to_line_up(encoder):
    _, english = tatoeba("deu", 30)
    with pytest.raises(UserError, match="nothing to line up"):
        layer_sweep(MapData(english, ["en"] * 30, [str(i) for i in range(30)]), encoder)


def test_a_file_larger_than_a_sweep_holds_is_sampled_translations_kept_together(encoder, monkeypatch):
    import xlmr_demo.layers as layers

    monkeypatch.setattr(layers, "LAYER_CELLS", 13 * 384 * 60)  # 60 rows
    sweep = layer_sweep(parallel(("spa",), 100), encoder)
    assert sweep.rows == 60 and sweep.queries == 60  # 30 whole pairs: each row finds its one translation
    assert any("random 60 of the 200 rows" in n for n in sweep.notes)


def test_public_mode_bounds_the_sweep_like_a_map(encoder, monkeypatch):
    from xlmr_demo.layers import max_rows

    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1")
    assert max_rows(encoder) == 10_000  # the map's cap: fewer than every layer's vectors would allow
    monkeypatch.setenv("XLMR_DEMO_MAX_MAP_POINTS", "40")
    assert layer_sweep(parallel(("rus",), 50), encoder).rows == 40


@pytest.fixture(scope="module")
def tiny_masked_model(tmp_path_factory, model_dir):
    """A two-layer XLM-R masked-LM with the embedded model's vocabulary whose head favours "▁capital"."""
    import torch
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForMaskedLM

    folder = tmp_path_factory.mktemp("tiny-mlm")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=514, pad_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = XLMRobertaForMaskedLM(config)
    with torch.no_grad():
        model.lm_head.bias[tokenizer.convert_tokens_to_ids("▁capital")] = 20.0
        model.lm_head.bias[tokenizer.convert_tokens_to_ids("▁city")] = 19.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_fill_mask_gives_each_blank_its_guesses_best_first(tiny_masked_model):
    from xlmr_demo.fill_mask import fill_mask

    filled = fill_mask("Paris is the <mask> of France. Berlin ist die [MASK] Deutschlands.", tiny_masked_model)
    assert filled.best == "Paris is the capital of France. Berlin ist die capital Deutschlands."
    for guesses in filled.blanks:
        assert [g.text for g in guesses[:2]] == ["capital", "city"] and len(guesses) == 5
        probabilities = [g.probability for g in guesses]
        assert probabilities == sorted(probabilities, reverse=True) and 0.6 < probabilities[0] < 0.8  # e / (1 + e)


def test_fill_mask_refuses_in_words(tiny_masked_model, model_dir, monkeypatch):
    from xlmr_demo.fill_mask import MAX_BLANKS, fill_mask

    with pytest.raises(UserError, match=r"embedded model .* cannot fill blanks"):
        fill_mask("a <mask> b", "embedded")
    with pytest.raises(UserError, match="cannot fill blanks: it was trained further"):
        fill_mask("a <mask> b", str(model_dir))  # the same weights as a folder: no head in it
    with pytest.raises(UserError, match="Put <mask> where"):
        fill_mask("no blank here", tiny_masked_model)
    with pytest.raises(UserError, match="up to 5"):
        fill_mask("<mask> " * (MAX_BLANKS + 1), tiny_masked_model)
    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1")
    with pytest.raises(UserError, match="This server offers these models"):
        fill_mask("a <mask> b", tiny_masked_model)  # a server folder is never a public visitor's choice


def test_the_command_line_writes_the_layer_curve_and_the_reading(tmp_path, capsys, encoder, model_dir):
    from xlmr_demo.cli import main

    data = parallel(("cmn",), 60)
    rows = zip(data.texts, data.languages, data.groups, strict=True)
    path = write_csv(tmp_path / "pairs.csv", ["text", "language", "pair_id"], rows)
    assert main(["layers", str(path), "--output", str(tmp_path / "layers.json")]) == 0
    curve = json.loads((tmp_path / "layers.json").read_text())
    assert [e["name"] for e in curve["layers"]][:2] == ["embeddings", "layer 1"] and len(curve["layers"]) == 13
    assert set(curve["layers"][-1]["per_language"]) == {"cmn", "eng"} and curve["grouping"] == "column"
    out = capsys.readouterr()
    assert "line up at layer" in out.err and out.out.splitlines()[0].startswith("model\tlayer\tall")
    args = ["layers", str(path), "--model", str(model_dir), "--before", "embedded", "-o", str(tmp_path / "two.json")]
    assert main(args) == 0  # a model folder beside the model it came from: here the same weights
    two = json.loads((tmp_path / "two.json").read_text())
    assert [e["accuracy"] for e in two["before"]["layers"]] == [e["accuracy"] for e in two["after"]["layers"]]
    assert main(["tokens", str(path), "--output", str(tmp_path / "reading.json")]) == 0
    read = json.loads((tmp_path / "reading.json").read_text())
    assert {r["language"]: r["tokens_per_word"] for r in read["languages"]}["cmn"] is None
    assert read["reference"] == "eng" and {r["language"]: r["relative_cost"] for r in read["languages"]}["eng"] == 1
    assert main(["fill-mask", "a <mask> b", "--model", "embedded"]) == 2
    assert "error: The embedded model" in capsys.readouterr().err


def test_the_tab_on_the_sample_and_its_refusals():
    import gradio as gr

    from xlmr_demo.web import inside
    from xlmr_demo.web.runner import end_session

    end_session()  # no file loaded, nothing trained: the sample, and nothing fine-tuned

    segments, summary = inside.show_pieces("Die Katze schläft", "embedded")
    assert [s for s, kind in segments if kind] == ["Die", "Kat", "ze", "sch", "lä", "ft"] and "**6 pieces**" in summary
    shown = list(inside.read_rows("embedded", progress=lambda *a, **k: None))[-1]
    assert len(shown.table["data"]) == 8 and "pieces" in shown.words  # the sample's eight languages
    shown = list(inside.measure_layers("embedded", False, progress=lambda *a, **k: None))[-1]
    assert "line up at layer" in shown.words and shown.table["data"][0][0] == "all"
    with pytest.raises(gr.Error, match="Fine-tune the whole model first"):
        list(inside.measure_layers("embedded", True, progress=lambda *a, **k: None))
    with pytest.raises(gr.Error, match="the limit is 100,000"):
        inside.show_pieces("x" * 100_001, "embedded")
    with pytest.raises(gr.Error, match="Expected text for text"):
        inside.show_pieces(["a", "b"], "embedded")


def test_the_tab_sets_the_fine_tuned_model_beside_the_one_it_started_from(trained, encoder):
    from types import SimpleNamespace

    from xlmr_demo.classifier import TunedWeightsClassifier
    from xlmr_demo.web import inside
    from xlmr_demo.web.runner import end_session
    from xlmr_demo.web.visitors import LOCAL_SESSION, SESSIONS

    end_session()
    tuned = TunedWeightsClassifier(encoder, trained.classifier.head, fine_tuned_in_the_last_layer(encoder), 512)
    SESSIONS.get(LOCAL_SESSION).result = SimpleNamespace(fine_tuned=True, classifier=tuned)
    try:
        shown = list(inside.measure_layers("embedded", True, progress=lambda *a, **k: None))[-1]
    finally:
        end_session()
    assert shown.words.startswith("**as it came: the languages") and "**fine-tuned: the languages" in shown.words
    models = [row[0] for row in shown.table["data"]]
    assert shown.table["headers"][:2] == ["model", "languages"] and {"as it came", "fine-tuned"} == set(models)
    firsts = [row for row in shown.table["data"] if row[1] == "all"]
    assert firsts[0][3:-1] == firsts[1][3:-1] and firsts[0][-1] != firsts[1][-1]  # only the last layer moved


def test_awkward_texts_are_shown_piece_by_piece_without_empty_or_misplaced_pieces(encoder):
    for text in ("1234567890", "Hello 1234", "日本語のテキスト", "😀🎉 👍🏽", "  lead and trail  "):
        segments = pieces(text, encoder).segments()
        assert "".join(chars for chars, _ in segments) == text
        assert all(chars for chars, kind in segments if kind)  # a lone word mark is no highlighted empty box
    assert pieces("1234567890", encoder).segments()[0] == ("1234", "starts a word")  # not "1" of a lone mark
    with pytest.raises(UserError, match="Type a text"):
        pieces("\u200b\ufeff", encoder)  # shows nothing


def test_long_rows_count_words_and_pieces_over_the_same_span(encoder):
    row = "Die internationale Zusammenarbeit verbessert die Qualität wissenschaftlicher Veröffentlichungen. " * 200
    per_word = reading([row], ["de"], encoder).languages[0].tokens_per_word
    assert per_word == pytest.approx(len(pieces(row, encoder).pieces) / len(row.split()), rel=0.05)


def test_the_cost_of_the_same_meanings_counts_copies_once_and_finds_english_by_its_region(encoder):
    french, english = tatoeba("fra", 40)
    ids = [str(i) for i in range(40)]
    once = reading(french + english, ["fr"] * 40 + ["en-US"] * 40, encoder, groups=ids * 2)
    twice = reading(french + english * 2, ["fr"] * 40 + ["en-US"] * 80, encoder, groups=ids * 3)
    assert once.reference == "en-US" == twice.reference
    cost = {r.language: r.relative_cost for r in once.languages}["fr"]
    assert cost > 1 and {r.language: r.relative_cost for r in twice.languages}["fr"] == pytest.approx(cost)


def test_a_group_column_that_is_not_translations_is_refused_and_a_language_without_any_is_named(encoder):
    data = parallel(("deu",), 30)
    with pytest.raises(UserError, match="One group holds 60 of the 60 rows"):
        layer_sweep(MapData(data.texts, data.languages, ["same"] * 60), encoder)
    copies = MapData(data.texts * 3, data.languages * 3, [f"{k}-{g}" for k in range(3) for g in data.groups])
    # each text under three ids: one meaning, not three that tie (a tie went to the first row, a third right)
    assert layer_sweep(copies, encoder).scores[-1].accuracy >= layer_sweep(data, encoder).scores[-1].accuracy > 0.9
    spanish, _ = tatoeba("spa", 10)
    extra = MapData(data.texts + spanish, data.languages + ["spa"] * 10, data.groups + [f"s{i}" for i in range(10)])
    assert any("No row in spa has a translation" in n for n in layer_sweep(extra, encoder).notes)


def test_guesses_inside_a_word_are_kept_apart_and_shown_as_text():
    from xlmr_demo.fill_mask import Filled, Guess
    from xlmr_demo.inside_views import fill_label, fill_words

    guesses = [Guess("capital", 0.5, True), Guess("capital", 0.1, False), Guess("*", 0.00001, True)]
    filled = Filled("The <mask> <mask>", [guesses, guesses], "The capital capital")
    assert fill_label(filled) == {"capital": 0.5, "…capital": 0.1, "*": 0.00001}
    assert r"\* (<0.1%)" in fill_words(filled) and "…capital (10.0%)" in fill_words(filled)


def test_tokens_refuses_an_output_for_one_text(tmp_path, capsys):
    from xlmr_demo.cli import main

    assert main(["tokens", "--text", "hello", "-o", str(tmp_path / "out.json")]) == 2
    assert "error: --output writes the figures of a file's rows" in capsys.readouterr().err
