"""Training on real multilingual data, saving, loading, predicting whole files."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import load_file

from xlmr_demo.classifier import Classifier
from xlmr_demo.dataset import load_dataset
from xlmr_demo.encoders import Encoder, EncoderConfig
from xlmr_demo.errors import UserError
from xlmr_demo.predict import not_sure, predict_file
from xlmr_demo.saved import CONFIG_FILE, HEAD_FILE
from xlmr_demo.training import evaluate
from xlmr_demo.writers import neutralise

from .conftest import SAMPLE, TEST_DATA


def test_training_reports_every_promised_metric(trained):
    m = trained.metrics
    assert {"accuracy", "macro_f1", "labels", "per_class", "confusion_matrix", "per_language", "transfer"} <= set(m)
    assert m["labels"] == ["negative", "neutral", "positive"]
    assert set(m["per_language"]) == {"en", "es", "fr", "ar"}
    assert sum(v["n"] for v in m["per_language"].values()) == m["n"] == np.sum(m["confusion_matrix"])
    # 80 tweets per language is little, but a real model beats chance (0.33) clearly
    assert m["macro_f1"] > 0.45
    transfer = m["transfer"]
    assert transfer["train_languages"] == transfer["eval_languages"] == ["ar", "en", "es", "fr"]
    assert np.asarray(transfer["macro_f1"]).shape == (4, 4)


def test_training_comes_in_stages_headline_first(umsab_files, encoder, trained):
    from xlmr_demo.training import LABEL_ERRORS, MORE_ROWS, TRANSFER, train_stages

    stages = list(train_stages(load_dataset(umsab_files[0]), encoder))
    assert [r.pending for r in stages] == [
        (TRANSFER, LABEL_ERRORS, MORE_ROWS), (LABEL_ERRORS, MORE_ROWS), (MORE_ROWS,), ()
    ]  # fmt: skip
    headline, transfer, issues, done = stages
    assert "transfer" not in headline.metrics and headline.label_issues == []
    assert transfer.metrics["transfer"] == trained.metrics["transfer"] and transfer.label_issues == []
    assert issues.label_issues == trained.label_issues and "learning_curve" not in issues.metrics
    assert done.metrics == trained.metrics and done.label_issues == trained.label_issues  # the same run, in stages
    assert headline.classifier is done.classifier


def test_training_history_is_kept(trained):
    t = trained.training
    assert t["rows"]["train"] > t["rows"]["validation"] > 0 and t["rows"]["test"] > 0
    assert 1 <= t["best_epoch"] <= len(t["validation_loss"]) == len(t["train_loss"])


def test_the_default_head_routes_texts_in_other_languages_to_logistic_regression(trained, encoder):
    from xlmr_demo.encoders import embed

    head = trained.classifier.head
    assert head.config.kind == "by_language" and {"ar", "en", "es", "fr"} <= set(head.languages_)
    texts = ["Das Essen war wunderbar, ich komme gerne wieder!", "What a wonderful meal, I will gladly come back!"]
    X = embed(texts, model=encoder).embeddings
    proba = trained.classifier.predict_proba(texts)
    np.testing.assert_allclose(proba, head.predict_proba(X, ["de", "en"]), atol=1e-6)
    assert not np.allclose(proba[0], head.predict_proba(X[:1], ["en"])[0], atol=1e-3)  # German: not the MLP


def test_label_issues_rank_suspects_first(trained):
    issues = trained.label_issues
    assert issues, "out-of-fold predictions found nothing to rank"
    flags = [i["suspect"] for i in issues]
    assert flags == sorted(flags, reverse=True)
    first = issues[0]
    assert first["predicted_label"] != first["given_label"] or not first["suspect"]
    assert {"row", "text", "language", "given_probability", "predicted_probability"} <= set(first)


def test_label_error_search_finds_planted_errors(encoder):
    """A tenth of the sample's training labels changed at random (its topics are otherwise clean)."""
    from xlmr_demo.encoders import embed
    from xlmr_demo.heads import HeadConfig
    from xlmr_demo.training import find_label_issues

    dataset = load_dataset(SAMPLE)
    rng = np.random.default_rng(0)
    pool = np.concatenate([dataset.indices("train"), dataset.indices("validation")])
    planted = rng.choice(pool, size=len(pool) // 10, replace=False)
    for i in planted:
        dataset.labels[i] = str(rng.choice([c for c in dataset.classes if c != dataset.labels[i]]))
    X = embed(dataset.texts, model=encoder).embeddings
    suspects = {r["row"] for r in find_label_issues(X, dataset, HeadConfig()) if r["suspect"]}
    found = suspects & {dataset.rows[i] for i in planted}
    assert len(found) >= 0.7 * len(planted)  # recall: 23 of 28 when this was written
    assert len(found) >= 0.8 * len(suspects)  # precision: 23 of 23


def test_same_seed_same_classifier(umsab_files, encoder, trained):
    from xlmr_demo.training import train_classifier

    again = train_classifier(load_dataset(umsab_files[0]), encoder, transfer=False, label_issues=False)
    assert again.metrics["per_class"] == trained.metrics["per_class"]


def test_save_load_round_trip(trained, tmp_path, encoder):
    folder = trained.classifier.save(tmp_path / "head", metrics=trained.metrics, training=trained.training)
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, HEAD_FILE, "metrics.json"]
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["labels"] == ["negative", "neutral", "positive"]
    assert config["encoder"] == {"name": "embedded", "fingerprint": encoder.fingerprint, "dim": 384,
                                 "prompt": "query: ", "max_length": 512}  # fmt: skip
    assert {"mean", "scale"} <= set(load_file(str(folder / HEAD_FILE)))
    loaded = Classifier.load(folder)
    texts = ["Je déteste attendre.", "What a wonderful day!", "الطقس جميل اليوم"]
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.classifier.predict_proba(texts), atol=1e-6)
    assert loaded.predict("What a wonderful day!") == trained.classifier.predict(["What a wonderful day!"])[0]
    scores = loaded.scores("What a wonderful day!")
    assert [p for _, p in scores] == sorted((p for _, p in scores), reverse=True)
    assert abs(sum(p for _, p in scores) - 1) < 1e-5


def test_loading_refuses_pickles_and_strangers(trained, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "head.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(UserError, match=r"expected head\.safetensors and config\.json, found head\.pkl"):
        Classifier.load(folder)
    good = trained.classifier.save(tmp_path / "good")
    (good / HEAD_FILE).write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="damaged"):
        Classifier.load(good)


def test_loading_refuses_a_head_for_another_encoder(trained, tmp_path, model_dir):
    folder = trained.classifier.save(tmp_path / "head")
    other = Encoder(EncoderConfig(prompt="passage: "))
    with pytest.raises(UserError, match="trained on embeddings of 'embedded'"):
        Classifier.load(folder, encoder=other)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["encoder"]["dim"] = 768
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(UserError, match="does not match"):
        Classifier.load(folder)


def test_evaluate_measures_every_row(trained, umsab_files):
    dataset = load_dataset(umsab_files[1], purpose="evaluate")
    metrics = evaluate(trained.classifier, dataset)
    assert metrics["n"] == 160 and metrics["evaluated_on"] == "evaluation file"


def test_predict_file_adds_columns_and_defuses_formulas(trained, tmp_path):
    out = tmp_path / "pred.csv"
    result = predict_file(trained.classifier, TEST_DATA / "awkward" / "formulas.csv", out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert header == ["text", "label", "predicted_label", "confidence", "certainty",
                      "prob_negative", "prob_neutral", "prob_positive"]  # fmt: skip
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("http://evil")', "'+1+1", "-2", "'@SUM(A1)", "plain", "fine"]
    for r in rows[1:]:
        probs = [float(v) for v in r[5:]]
        assert abs(sum(probs) - 1) < 2e-3 and float(r[3]) == max(probs)
        assert r[2] == ["negative", "neutral", "positive"][int(np.argmax(probs))]
        assert r[4] == ("not sure" if not_sure(probs) else "sure")
    assert result.n_blank == 0


def test_predictions_as_excel_keep_every_cell_as_text(trained, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from xlmr_demo import writers
    from xlmr_demo.table import Table

    out = tmp_path / "pred.xlsx"
    predict_file(trained.classifier, TEST_DATA / "awkward" / "formulas.csv", out)
    sheet = load_workbook(out).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:5] == ["text", "label", "predicted_label", "confidence", "certainty"]
    assert [r[0] for r in rows[1:]] == ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "plain", "fine"]
    assert {c.data_type for row in sheet.iter_rows() for c in row} == {"s"}  # as written, and never a formula
    odd = tmp_path / "odd.xlsx"
    rows = [["bell\x07 and tab\tkept"], ["x" * 40_000], ["lone \ud800 surrogate \ufffe"]]
    writers.write_table(Table(["text"], rows), odd)
    cells = [r[0].value for r in load_workbook(odd).active.iter_rows(min_row=2)]
    assert cells[0] == "bell and tab\tkept" and len(cells[1]) == 32_767 and cells[1].endswith("…")
    assert cells[2] == "lone  surrogate "  # characters a workbook cannot hold are left out
    monkeypatch.setattr(writers, "EXCEL_MAX_ROWS", 2)
    with pytest.raises(UserError, match="do not fit in an Excel sheet"):
        writers.write_table(Table(["text"], [["a"], ["b"]]), tmp_path / "long.xlsx")
    assert not (tmp_path / "long.xlsx").exists()


def test_rows_without_text_get_no_prediction(trained, tmp_path):
    out = tmp_path / "pred.csv"
    result = predict_file(trained.classifier, TEST_DATA / "awkward" / "blank_texts.csv", out)
    assert result.n_blank == 2
    rows = list(csv.reader(out.open(encoding="utf-8-sig", newline="")))
    assert rows[2][2:] == [""] * 6 and rows[1][2] != ""


@pytest.mark.parametrize("cell", ["=1+1", "+A1", "-A1", "@x", "\tx", "\rx", "-1+2", "+1e5)", "-"])
def test_neutralise_prefixes_formula_starts(cell):
    assert neutralise(cell) == "'" + cell
    assert neutralise("safe " + cell) == "safe " + cell


@pytest.mark.parametrize("cell", ["-2", "-6.29880", "+3.5", "-1e-05", "-.5"])
def test_plain_numbers_are_left_alone(cell):
    assert neutralise(cell) == cell


def test_the_label_error_table_says_what_it_holds_even_when_empty(trained):
    from xlmr_demo.views import issues_title

    suspects = sum(i["suspect"] for i in trained.label_issues)
    assert issues_title(trained).startswith(f"Suspected label errors: {suspects:,} rows")
    cleared = [{**i, "suspect": False} for i in trained.label_issues]
    assert "none found" in issues_title(replace(trained, label_issues=cleared))
    assert "not looked for" in issues_title(replace(trained, label_issues=[]))


def test_a_guess_is_flagged_not_sure():
    from xlmr_demo.predict import not_sure, not_sure_note

    assert not_sure([0.39, 0.2, 0.2, 0.21])  # the top label under half
    assert not_sure([0.55, 0.45])  # a close call between two
    assert not not_sure([0.9, 0.05, 0.05])
    assert not_sure_note([0.9, 0.05, 0.05]) == ""
    note = not_sure_note([0.39, 0.21, 0.2, 0.2])
    assert note.startswith("**Not sure**: the most likely label has 39% and the next one 21%")


def test_a_predicted_file_says_how_sure_it_is_and_why_cells_changed(trained):
    from xlmr_demo.predict import predict_table
    from xlmr_demo.table import Table
    from xlmr_demo.views import prediction_preview, prediction_summary
    from xlmr_demo.writers import neutralised_cells

    texts = ["@user I love this, best day ever!", "", "The invoice number is 4471-B.", "Terrible service, never again."]
    predictions = predict_table(trained.classifier, Table(columns=["text"], rows=[[t] for t in texts]))
    header, rows = prediction_preview(predictions)
    assert header == ["text", "predicted_label", "confidence", "certainty"] and len(rows) == 4
    assert {r[3] for r in rows if r[0]} <= {"sure", "not sure"} and rows[1][1:] == ["", "", ""]
    assert predictions.n_not_sure == sum(r[3] == "not sure" for r in rows)
    assert type(not_sure(np.array([0.39, 0.61]))) is bool  # numpy in, plain bool out: counts stay ints
    assert type(predictions.n_not_sure) is int
    summary = prediction_summary(predictions, neutralised_cells(predictions.table))
    assert "certainty column: 2 rows" in prediction_summary(replace(predictions, n_not_sure=np.int64(2)), 0)
    assert "Predicted **3 rows**" in summary and "Without text, so without a prediction: 1 row." in summary
    assert "(such as `@user`) begin with an apostrophe (1 cell)" in summary


def test_transfer_scores_from_few_test_rows_are_greyed_out(trained):
    from xlmr_demo.plots import transfer_heatmap

    transfer = trained.metrics["transfer"]
    test = trained.metrics["per_language"]
    n = [test[lang]["n"] for lang in transfer["eval_languages"]]
    # each cell: the language's test rows whose meaning the source never trained on (tweets: nearly all of them)
    for row in transfer["eval_rows"]:
        assert all(0.9 * total <= cell <= total for cell, total in zip(row, n, strict=True))
    k = len(transfer["eval_languages"])
    few = {**transfer, "eval_rows": [[12] + [40] * (k - 1)] * len(transfer["train_languages"])}
    trusted, grey = transfer_heatmap(few, min_rows=30).data
    assert np.isnan(trusted.z[:, 0]).all() and not np.isnan(grey.z[:, 0]).any()
    assert not np.isnan(trusted.z[:, 1:]).any() and np.isnan(grey.z[:, 1:]).all()
    assert trusted.x[0] == transfer["eval_languages"][0] and trusted.text[0][0] == "12"


def test_the_report_holds_every_view_and_escapes_the_data(trained, umsab_files):
    from xlmr_demo.views import EXPLANATIONS, training_report_html

    planted = {**trained.label_issues[0], "suspect": True, "text": "<script>alert(1)</script>", "given_label": "a&b"}
    page = training_report_html(replace(trained, label_issues=[planted]))
    assert page.count("plotly.js v") == 1  # inlined once, so the page opens offline
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&amp;b" in page and trained.classifier.encoder.fingerprint in page
    for key in ("per_class", "loss", "confusion", "languages", "transfer", "issues"):
        assert EXPLANATIONS[key].split("**")[1] in page  # every training figure's explanation, by its bold lead
    assert "Macro-F1" in page and "1 rows whose given label" in page
    with_data = training_report_html(trained, load_dataset(umsab_files[0]))
    assert "320 usable rows" in with_data and "Rows per label and language" in with_data


def test_figures_escape_language_names_and_keep_to_twenty_languages(trained):
    from xlmr_demo.plots import counts_chart, transfer_heatmap
    from xlmr_demo.views import training_status

    transfer = {"train_languages": ["<b>x</b>", "en"], "eval_languages": ["<b>x</b>", "en"],
                "macro_f1": [[0.5, 0.6], [0.7, 0.8]], "eval_rows": [40, 40]}  # fmt: skip
    trace = transfer_heatmap(transfer, 30).to_dict()["data"][0]
    assert "<b>" not in str(trace["x"]) + str(trace["y"]) and "&lt;b&gt;x&lt;/b&gt;" in trace["x"]
    counts = {"pos": {f"lang{i}": i + 1 for i in range(20_000)}, "neg": {"lang0": 3}}
    bars = counts_chart(counts).to_dict()["data"]
    assert len(bars) == 21 and bars[-1]["name"] == "19,980 other languages"
    assert sum(sum(b["y"]) for b in bars) == sum(sum(per.values()) for per in counts.values())
    done = training_status(trained, 1.0, 5.0, stopped="Stopped.")  # nothing was pending: nothing is missing
    assert done == "**Stopped.** Kept: the headline, the figures shown and the classifier download."
