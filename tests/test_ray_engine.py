"""``--engine ray``: embed, predict and map on a local Ray cluster give what one process gives, in input order.

One Ray cluster serves the module. Its workers compute in fp32 (``XLMR_DEMO_PRECISION``): in bf16
a text's vector depends on which texts share its batch (by up to 1e-3), in fp32 by 1e-7, so Ray's
batches can be held to one process's results to 1e-6 and to the same 4-decimal strings.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xlmr_demo.cli import main
from xlmr_demo.encoders import PRECISION_ENV, embed
from xlmr_demo.errors import UserError
from xlmr_demo.writers import neutralise

from .conftest import ROOT, SAMPLE, umsab, write_csv

DIE_ONCE = "XLMR_DEMO_TEST_DIE_ONCE"  # names a file: the first worker batch to remove it kills its own process
DIE_ALWAYS = "die always"  # a text that kills the worker embedding it, every time
HEADER = ["text", "label", "language"]


def worker_setup() -> None:
    """Every Ray worker's start: an embedding worker dies on its batch once the test arms it."""
    from xlmr_demo import ray_engine

    embed_batch = ray_engine.Embedder.work

    def dying_once(self, batch, cells):
        try:
            os.remove(os.environ[DIE_ONCE])
        except FileNotFoundError:
            if DIE_ALWAYS not in cells:
                return embed_batch(self, batch, cells)
        os._exit(1)

    ray_engine.Embedder.work = dying_once


@pytest.fixture(scope="module")
def ray_cluster(cache_root, model_dir, tmp_path_factory):
    """A local Ray cluster of 2 CPUs; yields the file that arms a worker's death."""
    import ray

    armed = tmp_path_factory.mktemp("ray") / "die-once"
    env = {DIE_ONCE: str(armed), "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    before = os.environ.get(PRECISION_ENV)
    os.environ[PRECISION_ENV] = "fp32"  # the driver chooses the precision and hands it to every worker
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"worker_process_setup_hook": worker_setup, "env_vars": env},
    )
    yield armed
    ray.shutdown()
    if before is None:
        del os.environ[PRECISION_ENV]
    else:
        os.environ[PRECISION_ENV] = before


@pytest.fixture(scope="module")
def fp32(model_dir):
    from xlmr_demo.encoders import Encoder, EncoderConfig

    return Encoder(EncoderConfig(precision="fp32"))


@pytest.fixture(scope="module")
def chunks() -> list[list[tuple[str, str, str]]]:
    """242 UMSAB test rows (4 languages) in three files' worth; the second holds an empty and a blank text."""
    rows = umsab("test", 60)
    blank = [("", "neutral", "en"), ("   ", "neutral", "fr")]
    return [rows[:100], rows[100:150] + blank + rows[150:170], rows[170:]]


@pytest.fixture(scope="module")
def csv_files(chunks, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("csv")
    names = ["a.csv", "b c.csv", "d.csv"]  # a space: the file names must survive Ray's paths
    return [write_csv(folder / name, HEADER, chunk) for name, chunk in zip(names, chunks, strict=True)]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def vectors(table: pa.Table) -> list[list[float] | None]:
    return table.column("embedding").to_pylist()


@pytest.fixture(scope="module")
def embedded_folder(ray_cluster, csv_files, tmp_path_factory) -> tuple[Path, str]:
    """``embed --engine ray`` of the three CSV files into a folder of parts, and what it said."""
    out = tmp_path_factory.mktemp("embedded") / "vectors"
    with contextlib.redirect_stderr(io.StringIO()) as err:  # capsys is the tests' own
        code = main(["embed", "--engine", "ray", *map(str, csv_files), "-o", str(out), "--batch-rows", "64"])
    assert code == 0, err.getvalue()
    return out, err.getvalue()


@pytest.mark.slow
def test_embed_writes_a_part_per_file_equal_to_embed_in_input_order(embedded_folder, chunks, fp32):
    out, err = embedded_folder
    assert "embedding column 'text'" in err and "242 row(s) of 3 file(s)" in err and "2 blank text(s)" in err
    parts = sorted(out.glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [pq.read_metadata(p).num_rows for p in parts] == [len(c) for c in chunks] == [100, 72, 70]
    table = pa.concat_tables(pq.read_table(p) for p in parts)
    rows = [r for chunk in chunks for r in chunk]
    assert table.column_names == [*HEADER, "embedding"]
    assert table.column("text").to_pylist() == [t or None for t, _, _ in rows]  # an empty cell reads as missing
    assert table.column("label").to_pylist() == [y for _, y, _ in rows]
    found = vectors(table)
    kept = [i for i, (t, _, _) in enumerate(rows) if t.strip()]
    assert [i for i, v in enumerate(found) if v is None] == [150, 151]
    expected = embed([rows[i][0] for i in kept], model=fp32, cache=False).embeddings
    np.testing.assert_allclose(np.array([found[i] for i in kept], dtype=np.float32), expected, atol=1e-6)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["task"] == "embed" and manifest["text_column"] == "text"
    assert [Path(i["path"]).name for i in manifest["inputs"]] == ["a.csv", "b c.csv", "d.csv"]


@pytest.mark.slow
def test_a_rerun_makes_only_the_missing_parts(embedded_folder, csv_files, tmp_path, capsys):
    out = tmp_path / "vectors"
    shutil.copytree(embedded_folder[0], out)  # times kept
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    lost = pq.read_table(out / "part-00001.parquet")
    (out / "part-00001.parquet").unlink()
    code, err = run(capsys, "embed", "--engine", "ray", *map(str, csv_files), "-o", str(out))
    assert code == 0, err
    assert "skipped 2 finished part(s)" in err and "72 row(s) of 1 file(s) on Ray (3 in all" in err
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    assert after.keys() == before.keys()
    assert [after[n] == before[n] for n in sorted(after)] == [True, False, True]
    remade = pq.read_table(out / "part-00001.parquet")
    assert remade.column("text").equals(lost.column("text"))
    kept = [v is not None for v in vectors(lost)]
    assert [v is not None for v in vectors(remade)] == kept
    np.testing.assert_allclose(
        np.array([v for v in vectors(remade) if v]), np.array([v for v in vectors(lost) if v]), atol=1e-6
    )
    # another job (here another text column) does not mix its parts with these
    code, err = run(capsys, "embed", "--engine", "ray", *map(str, csv_files), "-o", str(out), "--column", "label")
    assert code == 2 and "holds the parts of another job" in err and "--overwrite" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")} == after


@pytest.mark.slow
def test_predict_equals_predict_table_cell_for_cell(ray_cluster, csv_files, chunks, trained, fp32, tmp_path, capsys):
    from xlmr_demo.classifier import Classifier
    from xlmr_demo.predict import predict_table
    from xlmr_demo.table import Table

    head = trained.classifier.save(tmp_path / "head")
    out = tmp_path / "predictions.csv"
    folder = str(csv_files[0].parent)  # the folder: its CSV files, by name
    code, err = run(capsys, "predict", "--engine", "ray", str(head), folder, "-o", str(out), "--batch-rows", "50")
    assert code == 0, err
    assert not out.with_name("predictions.csv.parts").exists()  # assembled, then removed
    with out.open(encoding="utf-8-sig", newline="") as fh:
        got = list(csv.reader(fh))
    rows = [list(r) for chunk in chunks for r in chunk]
    local = predict_table(Classifier.load(head, encoder=fp32), Table(columns=HEADER, rows=rows))
    assert got[0] == local.table.columns
    added = slice(len(HEADER), None)
    # the same labels and certainty; probabilities as 4-decimal strings, equal or at a rounding boundary (fp32 sums
    # in Ray's batches differ from one process's by ~1e-7, which can move the 4th decimal of a .xxxx5 value)
    ray_cells, local_cells = [r[added] for r in got[1:]], [[c or "" for c in r[added]] for r in local.table.rows]
    assert [r[::2][:2] for r in ray_cells] == [r[::2][:2] for r in local_cells]  # predicted_label, certainty
    numbers = [(float(a), float(b)) for x, y in zip(ray_cells, local_cells, strict=True) for a, b in
               zip(x[1:2] + x[3:], y[1:2] + y[3:], strict=True) if a]  # fmt: skip
    assert len(numbers) == 240 * (len(got[0]) - len(HEADER) - 2) and max(abs(a - b) for a, b in numbers) <= 1.5e-4
    assert [r[:2] for r in got[1:]] == [[neutralise(t), y] for t, y, _ in rows]  # as written: "=..." gets a "'"
    assert got[151][added] == got[152][added] == [""] * (len(got[0]) - len(HEADER))  # the blank texts
    assert len({r[3] for r in got[1:]} - {""}) == 3  # every label predicted somewhere


@pytest.mark.slow
def test_embed_a_parquet_file_into_npy_like_the_local_engine(ray_cluster, fp32, tmp_path, capsys):
    rows = umsab("test", 15)
    texts = [t for t, _, _ in rows]
    texts[7] = None
    source = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"id": list(range(len(rows))), "review": texts}), source)
    out = tmp_path / "ray.npy"
    code, err = run(capsys, "embed", "--engine", "ray", str(source), "-o", str(out), "--actors", "1")
    assert code == 0, err
    assert "embedding column 'review'" in err and not out.with_name("ray.npy.parts").exists()
    kept = [t for t in texts if t]
    on_ray = np.load(out)
    assert on_ray.dtype == np.float32 and on_ray.shape == (len(rows) - 1, 384)
    np.testing.assert_allclose(on_ray, embed(kept, model=fp32, cache=False).embeddings, atol=1e-6)
    code, err = run(capsys, "embed", str(source), "-o", str(tmp_path / "local.npy"))
    assert code == 0, err
    np.testing.assert_allclose(on_ray, np.load(tmp_path / "local.npy"), atol=3e-3)  # locally: bf16 where native


@pytest.mark.slow
def test_map_on_ray_survives_a_worker_that_dies(ray_cluster, tmp_path, capsys, monkeypatch):
    import xlmr_demo.maps

    def no_local_embedding(*args, **kwargs):
        raise AssertionError("the map embedded in this process")

    monkeypatch.setattr(xlmr_demo.maps, "embed", no_local_embedding)
    ray_cluster.write_text("armed")
    out, coords = tmp_path / "map.html", tmp_path / "coords.csv"
    code, err = run(
        capsys, "map", "--engine", "ray", str(SAMPLE), "-o", str(out), "--coords", str(coords), "--batch-rows", "100"
    )
    assert code == 0, err
    assert not ray_cluster.exists()  # a worker died on its batch; Ray restarted it and ran the batch again
    with coords.open(encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 384
    assert "for 100% of the translated texts the closest text in another language is a translation" in err
    assert "<html" in out.read_text(encoding="utf-8")[:1000].lower()


@pytest.mark.slow
def test_a_worker_that_dies_on_every_try_fails_the_job_instead_of_waiting_forever(ray_cluster, tmp_path, capsys):
    data = write_csv(tmp_path / "a.csv", ["text"], [["fine"], [DIE_ALWAYS], ["also fine"]])
    code, err = run(capsys, "embed", "--engine", "ray", str(data), "-o", str(tmp_path / "out"))
    assert code == 2 and "error: A Ray worker died 3 times on the same rows" in err, err
    assert not list((tmp_path / "out").glob("part-*.parquet"))


@pytest.mark.slow
def test_a_file_ray_cannot_parse_is_one_error_line(ray_cluster, tmp_path, capsys):
    """The columns are checked on a file's first rows; a broken row further on fails in Ray's reader."""
    rows = "".join(f"text {i},x\n" for i in range(3000))
    (tmp_path / "a.csv").write_text("text,label\n" + rows + "one,two,three,four\n", encoding="utf-8")
    code, err = run(capsys, "embed", "--engine", "ray", str(tmp_path / "a.csv"), "-o", str(tmp_path / "out"))
    assert code == 2 and err.splitlines()[-1].startswith("error: a.csv could not be read as CSV: "), err


@pytest.mark.slow
def test_a_workers_user_error_is_one_error_line(ray_cluster, csv_files, tmp_path, capsys):
    """A model folder whose weights are missing passes the checks (they do not load it) and fails in the workers."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    out = tmp_path / "out"
    code, err = run(capsys, "embed", "--engine", "ray", str(csv_files[0]), "-o", str(out), "--model", str(model))
    assert code == 2 and err.splitlines()[-1].startswith("error: Could not load model"), err
    assert list(out.glob("part-*")) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ({"a.csv": "text,label\nhi,x\n", "b.parquet": None}, [], "The inputs mix CSV and Parquet files"),
        ({"a.csv": "text,label\nhi,x\n", "b.csv": "body,label\nyo,y\n"}, [], "b.csv has no column 'text'; found"),
        ({"a.csv": "id,body\n1,hi there\n"}, ["--column", "text"], "Expected a text column named 'text'"),
        ({"a.csv": "text,path\nhi,/x\n"}, [], "a.csv has a column named 'path', which --engine ray adds"),
        ({"a.jsonl": '{"text": "hi", "embedding": 1}\n'}, [], "has a column named 'embedding'"),
        (
            {"a.txt": "hello\n"},
            [],
            "reads CSV, Parquet and JSON Lines files (.csv, .parquet, .jsonl, .ndjson), not a.txt",
        ),
        ({"a.csv": "text\nhi\n"}, ["-o", "{tmp}/out.txt"], "--output is a folder of Parquet parts or one"),
        ({"a.csv": "text\nhi\n"}, ["--actors", "5"], "5 actors x --cpus-per-actor 0.5 need 2.5 CPUs"),
    ],
)
def test_bad_jobs_are_refused_before_any_work(ray_cluster, tmp_path, capsys, files, extra, message):
    for name, content in files.items():
        if content is None:
            pq.write_table(pa.table({"text": ["hi"]}), tmp_path / name)
        else:
            (tmp_path / name).write_text(content, encoding="utf-8")
    extra = [e.format(tmp=tmp_path) for e in extra]
    output = [] if "-o" in extra else ["-o", str(tmp_path / "out")]
    code, err = run(capsys, "embed", "--engine", "ray", *(str(tmp_path / n) for n in files), *output, *extra)
    *notes, last = err.splitlines()
    assert code == 2 and last.startswith("error: ") and message in last, err
    assert all(n.startswith("note: ") for n in notes), err  # the CPU check comes once Ray is up, after a note
    assert not (tmp_path / "out").exists()


def test_folders_and_globs_expand_in_order(tmp_path):
    from xlmr_demo.errors import UserError
    from xlmr_demo.ray_engine import expand_inputs

    for name in ("b.csv", "a.csv", "_manifest.csv", ".hidden.csv", "notes.md", "c.CSV"):
        (tmp_path / name).write_text("text\nhi\n")
    (tmp_path / "sub").mkdir()
    files, fmt = expand_inputs([tmp_path, str(tmp_path / "sub" / ".." / "a.csv")])
    assert fmt == "csv" and [p.name for p in files] == ["a.csv", "b.csv", "c.CSV"]  # a file named twice: once
    files, _ = expand_inputs([str(tmp_path / "[bc].*")])
    assert [p.name for p in files] == ["b.csv", "c.CSV"]
    with pytest.raises(UserError, match="No CSV, Parquet or JSON Lines file in"):
        expand_inputs([tmp_path / "sub"])
    with pytest.raises(UserError, match="File not found"):
        expand_inputs([tmp_path / "missing.csv"])


def test_without_ray_the_error_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    source = write_csv(tmp_path / "in.csv", ["text"], [["hello"]])
    for argv in (
        ["embed", str(source), "-o", str(tmp_path / "o")],
        ["map", str(source), "-o", str(tmp_path / "m.html")],
    ):
        code, err = run(capsys, argv[0], "--engine", "ray", *argv[1:])
        assert code == 2, err
        assert err.count("\n") == 1 and err.startswith("error: --engine ray needs Ray Data: "), err
        assert "pip install 'xlmr_demo[ray]' (or pip install -r requirements-ray.txt)" in err


def test_the_local_engine_refuses_ray_options_and_several_inputs(tmp_path, capsys):
    source = write_csv(tmp_path / "in.csv", ["text"], [["hello"]])
    code, err = run(capsys, "embed", str(source), "-o", str(tmp_path / "o.npy"), "--actors", "3")
    assert code == 2 and "--actors applies to --engine ray" in err
    code, err = run(capsys, "embed", str(source), str(source), "-o", str(tmp_path / "o.npy"))
    assert code == 2 and "Several inputs need --engine ray" in err
    assert not (tmp_path / "o.npy").exists()


def test_a_job_is_planned_and_resumed_without_starting_ray(csv_files, tmp_path, model_dir):
    """The default run's stand-in for the Ray tests above: what --engine ray would do, decided before Ray starts."""
    import ray

    from xlmr_demo import ray_engine

    out, running = tmp_path / "vectors", ray.is_initialized()  # the slow tests' cluster may be up (--slow)
    plan = ray_engine.plan_embed(csv_files, out, "embedded")
    assert ray.is_initialized() == running
    assert (plan.format, plan.text_column, plan.detected) == ("csv", "text", True)
    assert plan.todo == [0, 1, 2] and not plan.resume
    assert plan.files == [p.resolve() for p in csv_files] and plan.rows == 242
    ray_engine._start_parts(plan)  # as run() does, then one file's part is finished
    ray_engine.part_path(plan.parts, 1).write_bytes(b"finished")
    again = ray_engine.plan_embed(csv_files, out, "embedded")
    assert again.resume and again.todo == [0, 2] and again.skipped == 1 and again.rows == 170
    with pytest.raises(UserError, match="holds the parts of another job"):
        ray_engine.plan_embed(csv_files, out, "embedded", text_column="label")
    assert ray.is_initialized() == running
