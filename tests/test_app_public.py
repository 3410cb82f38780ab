"""The app in public mode, tried as an anonymous visitor would: through gradio_client, with hostile input.

One server for the module: public mode, its own Gradio cache folder (so that what is left on disk
can be counted) and sessions that go after 6 idle seconds.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLE, Hold, serving_app, write_csv

IDLE_SECONDS = 6  # uploads read go after a quarter of it, swept every half of it


@pytest.fixture(scope="module")
def gradio_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gradio_cache")


@pytest.fixture(scope="module")
def hold(tmp_path_factory) -> Hold:
    return Hold(tmp_path_factory.mktemp("hold"))


@pytest.fixture(scope="module")
def public_url(cache_root, gradio_cache, hold):
    env = {
        **hold.env,
        "XLMR_DEMO_PUBLIC": "1",
        "GRADIO_TEMP_DIR": str(gradio_cache),
        "XLMR_DEMO_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60),
        "XLMR_DEMO_VISITOR_REQUESTS": "1000",  # every test's visitor comes from 127.0.0.1
        "XLMR_DEMO_VISITOR_MB": "1000",
    }
    with serving_app("-m", "tests.held_app", **env) as url:  # app.py, whose jobs wait while a test holds them
        yield url


def visitor(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False)  # downloads stay theirs


def refusal(call) -> str:
    """The message a visitor sees when ``call`` is refused."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        call()
    return str(caught.value)


def settled(folder: Path, within: float = 3 * IDLE_SECONDS) -> list[str]:
    """The visitor files under ``folder`` once the uploads read last have gone (they go after a grace)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(not f.startswith("xlmr_demo/") for f in files_in(folder)):
        time.sleep(0.2)
    return files_in(folder)


def emptied(folder: Path, within: float = 10 * IDLE_SECONDS) -> list[str]:
    """The files under ``folder`` once they are gone, or after ``within`` seconds (polled)."""
    deadline = time.monotonic() + within
    while files_in(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    return files_in(folder)


def files_in(folder: Path) -> list[str]:
    """Files under ``folder``, but the server's own lock file (it marks the folder of the running server)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".owner")


def test_model_names_off_the_allow_list_are_refused_alike(public_url, cache_root):
    client = visitor(public_url)
    names = ["~/.ssh", "/nonexistent", "../..", str(cache_root), str(cache_root / "models"), "org/any-model"]
    messages = {refusal(lambda n=n: client.predict("a\nb", n, api_name="/compare")).replace(n, "NAME") for n in names}
    assert len(messages) == 1, messages
    assert "embedded" in messages.pop()


def test_hostile_uploads_get_plain_messages_without_server_paths(public_url, gradio_cache, tmp_path):
    from gradio_client import handle_file

    client = visitor(public_url)
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(30_000)) + "\n" + "x," * 29_999 + "x\n")
    message = refusal(lambda: client.predict(handle_file(str(wide)), api_name="/load_file"))
    assert "30,000 columns; the limit is 1,000. This public demo limits every request" in message
    junk = tmp_path / "classifier.zip"
    with zipfile.ZipFile(junk, "w") as archive:
        archive.writestr("config.json", "[" * 50_000)
        archive.writestr("head.safetensors", b"\x80\x04")
    message = refusal(lambda: client.predict(handle_file(str(junk)), api_name="/load_head"))
    assert "classifier.zip holds a damaged classifier" in message
    missing = refusal(lambda: client.predict("Bonjour", api_name="/predict"))
    assert "Train a classifier (Train tab) or load a saved one first" in missing
    for text in (message, missing):
        for server_path in (str(gradio_cache), str(ROOT), str(Path.home()), "/tmp"):
            assert server_path not in text
    assert settled(gradio_cache) == []  # refused uploads leave nothing


def test_two_visitors_sending_the_same_file_both_get_it_read(public_url):
    """Gradio stores identical uploads under one name: the first reader must not delete the second's."""
    import httpx
    from gradio_client import handle_file

    with SAMPLE.open("rb") as fh:  # the second visitor's upload lands first...
        path = httpx.post(public_url + "gradio_api/upload", files={"files": fh}, timeout=30).json()[0]
    visitor(public_url).predict(handle_file(str(SAMPLE)), api_name="/load_file")  # ...the first is read first
    later = {"path": path, "orig_name": SAMPLE.name, "meta": {"_type": "gradio.FileData"}}
    notes = visitor(public_url).predict(later, api_name="/load_file")[1]
    assert "384 rows" in notes


def test_uploads_refused_for_a_busy_visitor_or_never_used_are_deleted(public_url, gradio_cache, hold, tmp_path):
    import httpx
    from gradio_client import handle_file

    client = visitor(public_url)
    client.predict(handle_file(str(SAMPLE)), api_name="/load_file")
    with hold.on():
        job = client.submit("auto", "2", "language", True, api_name="/embedding_map")
        hold.wait_reached()
        busy = write_csv(tmp_path / "busy.csv", ["text", "label"], [["a", "x"], ["b", "y"]])
        assert "still running" in refusal(lambda: client.predict(handle_file(str(busy)), api_name="/load_file"))
    job.result()
    assert settled(gradio_cache) == []  # the refused upload went, with the sample read before it
    unused = tmp_path / "never_used.csv"
    unused.write_text("text\nhello\n")
    with unused.open("rb") as fh:  # straight to Gradio's upload route, never given to any callback
        httpx.post(public_url + "gradio_api/upload", files={"files": fh}, timeout=30).raise_for_status()
    assert [Path(f).name for f in files_in(gradio_cache)] == ["never_used.csv"]
    assert emptied(gradio_cache) == []  # after as long as a session may stay idle (and the sweep's interval)


def test_routes_that_write_a_visitors_state_to_disk_or_act_for_them_are_closed(public_url):
    import httpx

    client = visitor(public_url)
    answer = httpx.get(public_url + "gradio_api/deep_link", params={"session_hash": client.session_hash}, timeout=30)
    assert answer.status_code == 404
    assert httpx.get(public_url + "gradio_api/runs", timeout=30).status_code == 404  # run history is off


def test_the_servers_own_files_cannot_be_fetched(public_url):
    import urllib.error
    import urllib.request

    for path in ("/etc/passwd", str(ROOT / "app.py"), str(ROOT / "README.md")):
        for route in ("gradio_api/file=", "file="):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(public_url + route + path, timeout=10)
            assert refused.value.code in (403, 404)


def test_a_visitor_trains_predicts_and_leaves_nothing_behind(public_url, gradio_cache, tmp_path):
    from gradio_client import handle_file

    client = visitor(public_url)
    client.predict(handle_file(str(SAMPLE)), api_name="/load_file")
    assert settled(gradio_cache) == []  # the upload was deleted once read (after a grace of seconds)
    client.predict("text", "topic", "language", "(none)", api_name="/check_data")
    outputs = client.predict("embedded", "by_language", 0, api_name="/train")
    assert outputs[0].startswith("### Macro-F1")
    assert [Path(f).name for f in files_in(gradio_cache)] == ["classifier.zip"]  # the download, in Gradio's cache
    # a 20 MB paste is answered as its beginning: the same probabilities as the same text 200 times
    sentence = "Il pleut et il fait froid. "
    pasted = client.predict(sentence * 750_000, api_name="/predict")
    assert pasted == client.predict(sentence * 200, api_name="/predict")
    rows = [["Mañana nevará en la montaña."], ["@user El tren llega tarde."]]
    to_predict = write_csv(tmp_path / "new.csv", ["text"], rows)
    _, preview, summary = client.predict(handle_file(str(to_predict)), api_name="/predict_file")
    table = preview["value"]  # an update: the table appears once there is something to show
    assert table["headers"] == ["text", "predicted_label", "confidence", "certainty"] and len(table["data"]) == 2
    assert summary.startswith("Predicted **2 rows**") and "(such as `@user`) begin with an apostrophe" in summary
    assert sorted(Path(f).name for f in settled(gradio_cache)) == ["classifier.zip", "new_predictions.csv"]
    assert emptied(gradio_cache) == []  # the visitor left: after the idle time their session goes, with its files


def test_a_visitor_holds_one_worker_and_stop_frees_it(public_url, hold):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client = visitor(public_url)
    client.predict(handle_file(str(SAMPLE)), api_name="/load_file")
    with hold.on():  # the map waits at its next step until stopped
        client.submit("auto", "2", "language", True, api_name="/embedding_map")
        hold.wait_reached()
        message = refusal(lambda: client.predict("one\ntwo", "embedded", api_name="/compare"))
        assert "Drawing the map is still running. Wait for it to finish, or press Stop" in message
        other = visitor(public_url)  # another visitor is not held up
        assert other.predict("one\ntwo", "embedded", api_name="/compare")[1].startswith("**Most similar pairs**")
        assert client.predict(api_name="/stop") == "Stopping…"
    freed = False
    stopped = time.monotonic()
    while not freed and time.monotonic() - stopped < 30:  # the map stops at its next batch, freeing the worker
        try:
            freed = bool(client.predict("one\ntwo", "embedded", api_name="/compare"))
        except AppError:
            time.sleep(0.2)
    assert freed


def test_the_new_inputs_refuse_hostile_values_and_leave_nothing(public_url, gradio_cache, tmp_path):
    """Retrain's edited table, the map's languages, the predictions' format: refused before any work or file."""
    from gradio_client import handle_file

    from xlmr_demo.views import ISSUE_HEADERS

    client = visitor(public_url)
    client.predict(handle_file(str(SAMPLE)), api_name="/load_file")

    def retrain(rows):
        table = {"headers": ISSUE_HEADERS, "data": rows}
        return client.predict(table, "embedded", "by_language", 0, "csv", api_name="/retrain")

    assert "Train a classifier first" in refusal(lambda: retrain([[1, "en", "t", "a", "b", 0.5, "food"]]))
    client.predict("embedded", "by_language", 0, api_name="/train")
    forged = [[n, "en", "t", "a", "b", 0.5, "x" * 100] for n in range(1, 5_001)]  # rows the page never listed
    assert "Row 1 is not one of the suspected label errors listed" in refusal(lambda: retrain(forged))
    assert not [f for f in files_in(gradio_cache) if "corrected" in f]  # refused before the file is written
    message = refusal(lambda: client.predict("auto", "2", "language", True, ["../../etc"], api_name="/embedding_map"))
    assert "not in the list of choices" in message
    to_predict = write_csv(tmp_path / "new.csv", ["text"], [["Il neige."]])
    message = refusal(lambda: client.predict(handle_file(str(to_predict)), "exe", api_name="/predict_file"))
    assert "not in the list of choices" in message
    # the group column: a name the page never offered, or the label column (one group per class)
    columns = ("text", "topic", "language", "(none)")
    message = refusal(lambda: client.predict(*columns, "../../etc/passwd", api_name="/check_data"))
    assert "not in the list of choices" in message
    message = refusal(lambda: client.predict(*columns, "topic", api_name="/check_data"))
    assert "The group column 'topic' is also the label column" in message
    left = [Path(f).name for f in settled(gradio_cache)]  # the session (and its download) may be gone by now
    assert set(left) <= {"classifier.zip"}  # no corrected file, no upload


def test_fine_tuning_is_bounded_before_any_work(public_url, gradio_cache):
    from gradio_client import handle_file

    client = visitor(public_url)
    client.predict(handle_file(str(SAMPLE)), api_name="/load_file")
    over = refusal(lambda: client.predict("embedded", 6, 0, api_name="/finetune"))
    assert "maximum value 5" in over  # the cap is the slider's own bound here
    assert "minimum value 1" in refusal(lambda: client.predict("embedded", 0, 0, api_name="/finetune"))
    names = refusal(lambda: client.predict("org/any-model", 1, 0, api_name="/finetune"))
    assert "not in the list of choices" in names  # the dropdown's own check, before any work
    assert settled(gradio_cache) == []


def test_hostile_entity_files_and_texts_are_refused_and_leave_nothing(public_url, gradio_cache, tmp_path):
    from gradio_client import handle_file

    client = visitor(public_url)
    tags = tmp_path / "tags.conll"
    tags.write_text("Paris\tB-LOC\n<img src=x onerror=alert(1)>\tB-<b>\n", encoding="utf-8")
    message = refusal(
        lambda: client.predict(handle_file(str(tags)), None, "embedded", 1, 0, api_name="/train_entities")
    )
    assert "tags.conll, line 2" in message and "is not an IOB2 tag" in message
    long_line = tmp_path / "long.jsonl"
    long_line.write_text('{"text": "' + "x" * 200_000 + '", "entities": []}\n', encoding="utf-8")
    message = refusal(
        lambda: client.predict(handle_file(str(long_line)), None, "embedded", 1, 0, api_name="/train_entities")
    )
    assert "long.jsonl, line 1: 200,0" in message and "This public demo limits every request" in message
    over = refusal(lambda: client.predict(handle_file(str(tags)), None, "embedded", 9, 0, api_name="/train_entities"))
    assert "maximum value 5" in over
    assert "Fine-tune for entities first" in refusal(lambda: client.predict("Paris", api_name="/entities"))
    huge = refusal(lambda: client.predict("Paris " * 40_000, api_name="/entities"))
    assert "240,000 characters; the limit is 100,000" in huge
    for text in (message, over, huge):
        assert str(gradio_cache) not in text and str(ROOT) not in text
    assert settled(gradio_cache) == []  # refused uploads leave nothing


def test_inside_the_model_is_bounded_and_leaves_nothing(public_url, gradio_cache):
    client = visitor(public_url)
    for name in ("/nonexistent", "org/any-model"):  # the page's own lists, before any work
        assert "not in the list of choices" in refusal(lambda n=name: client.predict("a", n, api_name="/pieces"))
        assert "not in the list of choices" in refusal(
            lambda n=name: client.predict("a <mask>", n, api_name="/fill_mask")
        )
    over = refusal(lambda: client.predict("x" * 100_001, "embedded", api_name="/pieces"))
    assert "the limit is 100,000" in over and "This public demo limits every request" in over
    assert "up to 5 at a time" in refusal(lambda: client.predict("<mask> " * 6, "embedded", api_name="/fill_mask"))
    assert "cannot fill blanks" in refusal(lambda: client.predict("a <mask>", "embedded", api_name="/fill_mask"))
    assert "Fine-tune the whole model first" in refusal(lambda: client.predict("embedded", True, api_name="/layers"))
    words, _, table = client.predict("embedded", False, api_name="/layers")  # the sample, as map work
    assert "line up at layer" in words and table["data"][0][0] == "all"
    assert settled(gradio_cache) == []


def test_classifying_from_label_names_is_bounded_and_leaves_nothing(public_url, gradio_cache):
    client = visitor(public_url)
    too_many = ",".join(f"label {i}" for i in range(201))
    over = refusal(lambda: client.predict(too_many, "", "embedded", api_name="/zero_shot"))
    assert "the limit is 200 classes" in over and "This public demo limits every request" in over
    assert "more text than" in refusal(lambda: client.predict("a," * 100_000, "", "embedded", api_name="/zero_shot"))
    assert "up to 200 characters" in refusal(
        lambda: client.predict("a, " + "b" * 201, "", "embedded", api_name="/zero_shot")
    )
    assert "not one of the labels" in refusal(
        lambda: client.predict("weather, work", "sport: games", "embedded", api_name="/zero_shot")
    )
    assert "not in the list of choices" in refusal(lambda: client.predict("a, b", "", "org/any", api_name="/zero_shot"))
    headline, preview, download = client.predict(
        "weather, work, health, technology, food, travel", "", "embedded", api_name="/zero_shot"
    )  # the sample: its topics are these words
    assert headline.startswith("### Accuracy") and "with nothing trained" in headline
    assert (
        preview["value"]["headers"][-1] == "certainty"
        and Path(download["path"]).name == "sample_parallel_from_names.csv"
    )
    probabilities, _ = client.predict("Il neige sur la montagne.", api_name="/predict")  # the names now predict
    assert probabilities["label"] == "weather"
    assert emptied(gradio_cache) == []


def test_questions_to_a_map_are_bounded_and_leave_nothing(public_url, gradio_cache):
    client = visitor(public_url)
    assert "Draw the map first" in refusal(lambda: client.predict("rain", api_name="/find_on_map"))
    for many, language, message in [(51, "en", "Value 51 is greater than maximum value 50"),
                                     (1, "en", "whole number of clusters"),
                                     (0, "x" * 100_000, "64 characters at most")]:  # fmt: skip
        asked = ("pca", "2", "cluster", True, [], True, many, language)
        assert message in refusal(lambda a=asked: client.predict(*a, api_name="/embedding_map"))
    outputs = client.predict("pca", "2", "cluster", True, [], True, 0, "en", api_name="/embedding_map")
    clusters = outputs[4]  # the sample, with named clusters, as map work
    assert clusters["value"]["headers"][:2] == ["cluster", "named by"] and len(clusters["value"]["data"]) == 4
    over = refusal(lambda: client.predict("x" * 100_001, api_name="/find_on_map"))
    assert "the limit is 100,000" in over and "This public demo limits every request" in over
    _, words, found = client.predict("parapluie", api_name="/find_on_map")
    assert "rows found" in words and found["headers"][-1] == "text"
    words, _ = client.predict("0 1 2", api_name="/map_selection")
    assert words.startswith("**3 rows selected.**")
    for hostile, message in [("1 " * 5_000, "longer than"), ("999999", "another map"), ("1; DROP", "not a list")]:
        assert message in refusal(lambda h=hostile: client.predict(h, api_name="/map_selection"))
    rows = client.predict("0 1 2", "xlsx", api_name="/selected_rows")
    assert Path(rows["path"]).name == "selected_rows.xlsx"
    assert "at most 200 characters" in refusal(lambda: client.predict("0", "x" * 201, api_name="/relabel_selection"))
    assert "not of the file loaded now" in refusal(lambda: client.predict("0", "rain", api_name="/relabel_selection"))
    assert Path(client.predict(api_name="/share_map")["path"]).name == "map.html"
    assert Path(client.predict(api_name="/atlas_file")["path"]).name == "map.parquet"
    assert emptied(gradio_cache) == []
