"""Heads follow scikit-learn's estimator contract and learn what there is to learn."""

from __future__ import annotations

import numpy as np
import pytest

from xlmr_demo.heads import Head, HeadConfig


def blobs(n: int = 300, seed: int = 0, weights=(0.5, 0.3, 0.2)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.choice(["a", "b", "c"], size=n, p=weights)
    centres = {"a": 0.0, "b": 3.0, "c": -3.0}
    X = rng.normal(size=(n, 16)).astype(np.float32)
    X[:, 0] += [centres[v] for v in labels]
    return X, labels


@pytest.mark.parametrize(("kind", "minimum"), [("logreg", 0.8), ("mlp", 0.75), ("by_language", 0.75)])
def test_fit_sets_classes_and_predicts_in_kind(kind, minimum):
    X, y = blobs()
    head = Head(HeadConfig(kind=kind)).fit(X[:200], y[:200], X[200:250], y[200:250])
    assert head.classes_.tolist() == ["a", "b", "c"]
    proba = head.predict_proba(X[250:])
    assert proba.shape == (50, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (head.predict(X[250:]) == y[250:]).mean() > minimum


def test_init_only_stores_settings_and_predict_needs_fit():
    head = Head(HeadConfig(kind="logreg"))
    assert vars(head) == {"config": HeadConfig(kind="logreg")}
    with pytest.raises(RuntimeError, match="not fitted"):
        head.predict(np.zeros((1, 4), np.float32))


def test_same_seed_same_head_other_seed_other_head():
    X, y = blobs()
    a = Head(HeadConfig(seed=3)).fit(X, y).predict_proba(X)
    b = Head(HeadConfig(seed=3)).fit(X, y).predict_proba(X)
    c = Head(HeadConfig(seed=4)).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_fit_draws_nothing_from_torchs_global_generator_so_another_job_cannot_change_it():
    """Two jobs at once share torch's global generator: a head seeded there got other weights and dropout
    masks whenever another thread drew from it meanwhile. Here one thread draws all the time."""
    import threading

    import torch

    X, y = blobs()
    config = HeadConfig(kind="mlp", seed=5, max_steps=200)
    alone = Head(config).fit(X, y, X[:50], y[:50]).predict_proba(X)
    stop = threading.Event()

    def other_job() -> None:
        while not stop.is_set():
            torch.rand(64)

    thread = threading.Thread(target=other_job)
    thread.start()
    try:
        torch.manual_seed(123)  # and another job reseeds it
        together = Head(config).fit(X, y, X[:50], y[:50]).predict_proba(X)
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(alone, together)


def test_early_stopping_keeps_the_best_validation_epoch():
    X, y = blobs(200)
    head = Head(HeadConfig(kind="mlp", patience=5, max_epochs=500, max_steps=100_000)).fit(
        X[:100], y[:100], X[100:], y[100:]
    )
    history = head.history_
    assert len(history.validation_loss) < 500
    assert history.validation_loss[history.best_epoch - 1] <= min(history.validation_loss) * (1 + 1e-3)
    assert len(history.validation_loss) == history.best_epoch + 5


def test_small_datasets_still_get_trained():
    """100 rows (and 30 to stop on) with the default settings come close to scikit-learn's logistic regression.

    Guards against too few updates per epoch: with one batch of 256 per epoch this scored 0.34.
    """
    from sklearn.linear_model import LogisticRegression

    X, y = blobs(330)
    reference = (LogisticRegression(max_iter=1000).fit(X[:100], y[:100]).predict(X[130:]) == y[130:]).mean()
    scores = [
        (Head(HeadConfig(seed=seed)).fit(X[:100], y[:100], X[100:130], y[100:130]).predict(X[130:]) == y[130:]).mean()
        for seed in range(3)
    ]  # one seed's score moves by a few points with its initial weights; the mean of three much less
    assert np.mean(scores) >= reference - 0.1


def test_class_weights_raise_recall_of_the_rare_class():
    X, y = blobs(600, weights=(0.9, 0.08, 0.02))
    recall = {}
    for weighting in ("balanced", "none"):
        head = Head(HeadConfig(kind="logreg", class_weight=weighting)).fit(X[:400], y[:400])
        pred = head.predict(X[400:])
        rare = y[400:] != "a"
        recall[weighting] = (pred[rare] == y[400:][rare]).mean()
    assert recall["balanced"] > recall["none"]


def test_training_stops_at_max_steps():
    X, y = blobs(160)  # 160 rows -> batches of 20 -> 8 updates per epoch
    head = Head(HeadConfig(max_steps=40, patience=1000)).fit(X, y, X, y)
    assert len(head.history_.train_loss) == 5


def test_progress_is_reported_every_epoch():
    X, y = blobs(100)
    seen = []
    Head(HeadConfig(kind="mlp", max_epochs=7, patience=100)).fit(
        X, y, X, y, progress=lambda s: seen.append((s.done, s.total, s.validation_loss is not None))
    )
    assert seen == [(e, 7, True) for e in range(1, 8)]


def test_wrong_width_is_refused():
    X, y = blobs(60)
    head = Head().fit(X, y)
    with pytest.raises(ValueError, match="width 16"):
        head.predict(np.zeros((2, 8), np.float32))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logreg_is_scikit_learns_logistic_regression(n_classes):
    from sklearn.linear_model import LogisticRegression

    X, y = blobs(300)
    keep = np.isin(y, ["a", "b", "c"][:n_classes])
    X, y = X[keep] * 0.1 + 0.5, y[keep]  # off-centre and narrow: the standardisation must be folded in exactly
    peer = LogisticRegression(max_iter=1000, class_weight="balanced").fit(X, y)
    head = Head(HeadConfig(kind="logreg")).fit(X, y)
    # the same objective, solved in chunks of L-BFGS iterations (each a chance to stop): the two solvers
    # stop at their tolerance a little apart; a wrongly folded standardisation would be far off
    np.testing.assert_allclose(head.predict_proba(X), peer.predict_proba(X), atol=5e-3)
    assert (head.predict(X) == peer.predict(X)).mean() >= 0.99


def test_by_language_uses_the_mlp_for_training_languages_and_logreg_for_others():
    X, y = blobs(300)
    languages = ["en"] * 200 + ["fr"] * 97 + ["de"] * 2 + ["und"]  # de: under 1% of the rows
    routed = Head().fit(X, y, X[:50], y[:50], languages=languages)
    mlp = Head(HeadConfig(kind="mlp")).fit(X, y, X[:50], y[:50])
    logreg = Head(HeadConfig(kind="logreg")).fit(X, y)
    assert routed.languages_ == ["en", "fr"]
    rows = X[:4]
    for lang, expected in [("en", mlp), ("fr", mlp), ("und", mlp), ("de", logreg), ("ar", logreg)]:
        np.testing.assert_allclose(routed.predict_proba(rows, [lang] * 4), expected.predict_proba(rows), atol=1e-6)
    mixed = routed.predict_proba(rows, ["en", "ar", "und", "de"])
    np.testing.assert_allclose(mixed[[0, 2]], mlp.predict_proba(rows[[0, 2]]), atol=1e-6)
    np.testing.assert_allclose(mixed[[1, 3]], logreg.predict_proba(rows[[1, 3]]), atol=1e-6)
    np.testing.assert_allclose(routed.predict_proba(rows), mlp.predict_proba(rows), atol=1e-6)  # no languages given
    with pytest.raises(ValueError, match="2 languages for 4 rows"):
        routed.predict(rows, ["en", "fr"])


@pytest.mark.parametrize("kind", ["by_language", "mlp", "logreg"])
def test_saved_tensors_rebuild_the_same_head(kind):
    X, y = blobs(120)
    languages = ["en"] * 60 + ["es"] * 60
    head = Head(HeadConfig(kind=kind)).fit(X, y, languages=languages)
    again = Head.from_saved(head.settings(), head.tensors())
    for langs in (["en"] * 120, ["ar"] * 120):
        np.testing.assert_allclose(again.predict_proba(X, langs), head.predict_proba(X, langs), atol=1e-6)


def test_logistic_regression_reports_progress_and_stops_within_a_chunk():
    from xlmr_demo.jobs import Job, Stopped

    X, y = blobs(300)
    seen = []
    Head(HeadConfig(kind="logreg")).fit(X, y, progress=seen.append)
    assert seen and {s.stage for s in seen} == {"training (logistic regression)"}
    job = Job("Training")
    job.stop()
    with pytest.raises(Stopped):  # a stop (or the job's time limit) is seen after the first chunk of iterations
        Head(HeadConfig(kind="by_language")).fit(X, y, progress=job.progress)
