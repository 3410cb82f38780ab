"""The Ray Data engine of ``embed``, ``predict`` and ``map`` (``--engine ray``): many files, many workers, one output.

The driver (this process) decides what is decided once: it expands the inputs into a file list
(whose order is the output's), finds the text column in the first file's first rows as the
single-process path does, checks every file's columns and the output, and writes the output from
the stream of results. Ray Data reads the files and runs a pool of actors over batches of rows,
each actor with its own encoder or classifier, built once in its ``__init__``; ``preserve_order``
keeps the rows in input order.

The output is a folder with one Parquet part per input file (``part-00000.parquet``, ...), each
written to a temporary sibling and renamed when complete, and ``_manifest.json``: what made the
parts (task, model or classifier and its fingerprint, text column, each input's size and time). A
re-run with the same manifest skips the inputs whose parts exist; another job's folder is replaced
only with ``--overwrite``. A single output file (.parquet, .csv, or .npy of embeddings) is assembled
from parts kept beside it in ``OUT.parts/``, which is removed once the file is written.

Workers need the inputs, a classifier and a model folder at the same paths as the driver (a shared
disk, on a cluster), and the embedding cache is not used: many processes would write one file.
Ray is optional (``pip install 'xlmr_demo[ray]'``) and imported only inside functions.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import UserError
from .progress import Progress, Step
from .readers import SNIFF_CHARS, sniff_delimiter
from .table import Table, columns_text
from .writers import neutralise, output_file, output_folder, save_npy, write_file_atomically

if TYPE_CHECKING:
    import pyarrow as pa

RAY_MISSING = "--engine ray needs Ray Data: pip install 'xlmr_demo[ray]' (or pip install -r requirements-ray.txt)"
#: What --engine ray reads, by extension, and the formats' names in messages.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json", ".ndjson": "json"}
FORMAT_NAMES = {"csv": "CSV", "parquet": "Parquet", "json": "JSON Lines"}
HEAD_ROWS = 2000  # rows of the first file the text column is found in (read_texts looks at 500 non-empty cells)
MANIFEST = "_manifest.json"
RETRIES = 2  # times a worker that died is restarted, and its batch run again
PATH = "path"  # the column Ray Data fills with each row's file (include_paths)
EMBEDDING = "embedding"
OUTPUT_SUFFIXES = {"embed": (".parquet", ".csv", ".npy"), "predict": (".parquet", ".csv")}


@dataclass(frozen=True)
class RayOptions:
    """Where to run (a cluster's address; None: start Ray on this machine) and how wide."""

    address: str | None = None
    actors: int = 2  # model workers, each holding one copy of the model
    cpus_per_actor: float | None = None  # None: see cpus_per_actor()
    gpus_per_actor: float = 0.0
    batch_rows: int = 1024  # rows per block and per call of a worker


@dataclass(frozen=True)
class Plan:
    """A checked job: which files, which column, where the parts go and which are still to make."""

    task: str  # "embed" or "predict"
    source: str  # what each worker loads: the model (embed) or the classifier's path (predict)
    files: list[Path]  # the inputs in output order, resolved
    format: str  # "csv", "parquet" or "json"
    text_column: str
    detected: bool  # the text column was found, not named
    output: Path  # the folder of parts, or the one file assembled from them
    parts: Path  # the folder of parts: ``output`` itself, or ``OUT.parts`` beside the file
    manifest: dict  # what made the parts, as ``_manifest.json`` says it
    resume: bool  # ``parts`` holds this job's parts already (else it is started afresh)
    todo: list[int]  # the files whose parts are still to make
    rows: int  # rows of the files to do: exact for Parquet, counted lines for the others (an estimate)
    csv_columns: list[str]  # every CSV file's columns: all are read as text, as the single-process readers do
    delimiter: str  # of the CSV files, as sniffed in the first

    @property
    def skipped(self) -> int:
        """Files whose parts an earlier run finished."""
        return len(self.files) - len(self.todo)


@dataclass(frozen=True)
class Done:
    """What a run made: rows this run (blank: without an embedding or prediction) and where it wrote."""

    output: Path
    rows: int
    blank: int


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UserError(RAY_MISSING) from exc
    return ray


def expand_inputs(specs: Sequence[str | Path]) -> tuple[list[Path], str]:
    """The files that ``specs`` name (files, folders, globs), in order, resolved, and their one format.

    A folder or glob gives its CSV, Parquet and JSON Lines files, sorted by name (a folder's hidden
    files and ``_`` files, such as a manifest, left out); a file named twice is read once.
    """
    files: list[Path] = []
    for spec in map(str, specs):
        path = Path(spec).expanduser()
        if path.is_file():
            files.append(path)
            continue
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith((".", "_"))]
        elif glob.has_magic(spec):
            found = [Path(p) for p in sorted(glob.glob(str(path))) if os.path.isfile(p)]
        else:
            raise UserError(f"File not found: {spec}")
        found = [p for p in found if p.suffix.lower() in FORMATS]
        if not found:
            raise UserError(f"No CSV, Parquet or JSON Lines file in {spec}.")
        files += found
    files = list(dict.fromkeys(p.resolve() for p in files))
    other = next((p for p in files if p.suffix.lower() not in FORMATS), None)
    if other is not None:
        raise UserError(
            f"--engine ray reads CSV, Parquet and JSON Lines files (.csv, .parquet, .jsonl, .ndjson), not {other.name}."
        )
    formats = sorted({FORMATS[p.suffix.lower()] for p in files})
    if len(formats) > 1:
        names = " and ".join(FORMAT_NAMES[f] for f in formats)
        raise UserError(f"The inputs mix {names} files; give files of one format.")
    return files, formats[0]


def _csv_args(columns: Iterable[str], delimiter: str) -> dict:
    """pyarrow's CSV options: every cell text (as the single-process readers give), "" missing, quoted newlines kept."""
    import pyarrow as pa
    import pyarrow.csv as pv

    return {
        "parse_options": pv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        "convert_options": pv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=True, null_values=[""]
        ),
    }


def _head(path: Path, fmt: str, rows: int, csv_args: dict) -> pa.Table:
    """About the first ``rows`` rows of ``path``: a block's worth at least for CSV and JSON Lines, none of Parquet
    when ``rows`` is 0 (its schema, from its footer)."""
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            batch = next(parquet.iter_batches(batch_size=rows), None) if rows else None
            return pa.Table.from_batches([batch]) if batch is not None else parquet.schema_arrow.empty_table()
        if fmt == "csv":
            import pyarrow.csv as pv

            reader = pv.open_csv(path, **csv_args)
        else:
            import pyarrow.json as pj

            reader = pj.open_json(path)
        batches, n = [], 0
        for batch in reader:
            batches.append(batch)
            n += batch.num_rows
            if n >= max(rows, 1):
                break
        return pa.Table.from_batches(batches, schema=reader.schema)
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path.name} could not be read as {FORMAT_NAMES[fmt]}: {reason}") from exc


def text_cells(column) -> list[str | None]:
    """An Arrow column as text cells; None for a missing or blank one, as the single-process readers give."""
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        try:
            column = column.cast(pa.string())
        except pa.ArrowException:  # lists, structs, ...: never the text
            return [None] * len(column)
    return [c if c and c.strip() else None for c in column.to_pylist()]


def _find_text_column(head: pa.Table, name: str, given: str | None) -> str:
    from .columns import detect_columns

    cells = [text_cells(head.column(c)) for c in head.column_names]
    table = Table(columns=list(head.column_names), rows=[list(r) for r in zip(*cells, strict=True)])
    return detect_columns(table, name, roles=("text",), text=given).text


def _count_rows(path: Path, fmt: str) -> int:
    """Rows of ``path``: Parquet's from its metadata; lines for the others (a CSV cell may hold several)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    return max(0, lines - (fmt == "csv"))


def plan_embed(
    inputs: Sequence[str | Path], output: str | Path, model: str, text_column: str | None = None,
    overwrite: bool = False,
) -> Plan:  # fmt: skip
    """Check an ``embed`` job before any work: the model, the inputs and their text column, the output."""
    from .encoders import load_encoder

    _ray()
    encoder = load_encoder(model)  # the model's name and fingerprint; the network loads in the workers
    identity = {"model": encoder.name, "fingerprint": encoder.fingerprint, "precision": _precision(model)}
    return _plan("embed", _model_source(model), identity, inputs, output, text_column, overwrite)


def _precision(model: str) -> str:
    """The arithmetic every worker uses for ``model``, chosen here once (``precision="auto"``, measured on this
    machine, or ``XLMR_DEMO_PRECISION``): workers on other hardware would otherwise choose their own, and one
    output (or a resumed one) would mix vectors of different precisions. Part of the manifest."""
    from .encoders import forced_precision, load_encoder

    return forced_precision() or load_encoder(model).precision  # the encoder is cached: it may predate the setting


def _model_source(model: str) -> str:
    """``model`` as every worker can load it: a folder by its absolute path, a name as it is."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def plan_predict(
    inputs: Sequence[str | Path], output: str | Path, classifier: str | Path, text_column: str | None = None,
    overwrite: bool = False,
) -> Plan:  # fmt: skip
    """Check a ``predict`` job before any work: the classifier, the inputs and their text column, the output."""
    from .classifier import load_classifier
    from .encoders import forced_precision
    from .fingerprints import file_sha256, folder_fingerprint

    _ray()
    path = Path(classifier).expanduser().resolve()
    loaded = load_classifier(path)  # refuses a damaged or mismatched classifier here, not in every worker
    fingerprint = file_sha256(path) if path.is_file() else folder_fingerprint(path)
    encoder = getattr(loaded, "encoder", None)  # a whole fine-tuned model folder chooses by the CPU's flags
    precision = forced_precision() or (encoder.precision if encoder is not None else loaded.precision)
    identity = {"classifier": str(path), "fingerprint": fingerprint, "precision": precision}
    return _plan("predict", str(path), identity, inputs, output, text_column, overwrite)


def _plan(
    task: str, source: str, identity: dict, inputs: Sequence[str | Path], output: str | Path,
    text_column: str | None, overwrite: bool,
) -> Plan:  # fmt: skip
    files, fmt = expand_inputs(inputs)
    delimiter, csv_columns = ",", []
    if fmt == "csv":
        with files[0].open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            delimiter = sniff_delimiter(fh.read(SNIFF_CHARS))
    columns = []  # each file's columns, from its first block (Parquet: its schema)
    for path in files:
        names = list(_head(path, fmt, 0, _csv_args((), delimiter)).column_names)
        for name in [PATH, EMBEDDING] if task == "embed" else [PATH]:
            if name in names:
                raise UserError(
                    f"{path.name} has a column named {name!r}, which --engine ray adds itself; rename that column."
                )
        columns.append(names)
    if fmt == "csv":
        csv_columns = list(dict.fromkeys(c for names in columns for c in names))
    head = _head(files[0], fmt, HEAD_ROWS, _csv_args(csv_columns, delimiter))
    found = _find_text_column(head, files[0].name, text_column)
    for path, names in zip(files, columns, strict=True):
        if found not in names:
            raise UserError(f"{path.name} has no column {found!r}; found columns: {columns_text(names)}.")
    output, parts = _output_paths(Path(output), OUTPUT_SUFFIXES[task], files, overwrite)
    manifest = {
        "task": task,
        **identity,
        "text_column": found,
        "inputs": [{"path": str(p), "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in files],
    }
    resume = _resumable(parts, manifest, files, overwrite or parts != output)
    todo = [i for i in range(len(files)) if not (resume and part_path(parts, i).exists())]
    return Plan(
        task=task,
        source=source,
        files=files,
        format=fmt,
        text_column=found,
        detected=text_column is None,
        output=output,
        parts=parts,
        manifest=manifest,
        resume=resume,
        todo=todo,
        rows=sum(_count_rows(files[i], fmt) for i in todo),
        csv_columns=csv_columns,
        delimiter=delimiter,
    )


def part_path(parts: Path, index: int) -> Path:
    """The part made from input ``index``."""
    return parts / f"part-{index:05d}.parquet"


def _output_paths(output: Path, suffixes: tuple[str, ...], files: list[Path], overwrite: bool) -> tuple[Path, Path]:
    """(the output, its folder of parts): a file of one of ``suffixes`` is assembled from parts beside it."""
    if output.suffix.lower() in suffixes:
        output_file(output, suffixes, "--output", inputs=files, overwrite=overwrite)
        return output, output.with_name(output.name + ".parts")
    if output.suffix and not output.is_dir():
        raise UserError(
            f"--output is a folder of Parquet parts or one {', '.join(suffixes)} file, not {output.suffix} "
            f"({output.name})."
        )
    return output, output


def _read_manifest(parts: Path) -> dict | None:
    try:
        return json.loads((parts / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _resumable(parts: Path, manifest: dict, files: list[Path], overwrite: bool) -> bool:
    """Whether ``parts`` holds this job's parts; if not, that it may be started afresh (checked, nothing changed)."""
    old = _read_manifest(parts)
    if old == manifest:
        return True
    if old is not None and not overwrite:
        raise UserError(
            f"{parts} holds the parts of another job (other inputs, model, classifier or text column); "
            "add --overwrite to start again, or choose another folder."
        )
    output_folder(parts, "--output", replaceable=lambda p: (p / MANIFEST).is_file(), inputs=files, overwrite=overwrite)
    return False


def _start_parts(plan: Plan) -> None:
    """An empty folder of parts for ``plan`` (another job's parts and manifest removed), with its manifest."""
    if plan.parts.is_dir():
        for leftover in plan.parts.iterdir():  # only what this module writes: parts, their temporary files, manifest
            if leftover.name == MANIFEST or leftover.name.lstrip(".").startswith("part-"):
                leftover.unlink()
    plan.parts.mkdir(parents=True, exist_ok=True)
    text = json.dumps(plan.manifest, indent=1, ensure_ascii=False)
    write_file_atomically(plan.parts / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _worker_precision(precision: str) -> None:
    """A worker process computes in the driver's precision (whatever its own hardware would choose)."""
    from .encoders import PRECISION_ENV

    os.environ[PRECISION_ENV] = precision


class Attempts:
    """The job's ledger (a Ray actor): how many times each batch was started. Ray restarts a worker that died
    and runs its batch again, without end; the workers ask here first, so a batch that killed a worker
    :data:`RETRIES` + 1 times fails the job instead (Ray Data's own cap, ``map_batches(max_restarts=...)``,
    goes in Ray 2.64)."""

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}

    def start(self, batch: str) -> int:
        self.starts[batch] = self.starts.get(batch, 0) + 1
        return self.starts[batch]


def died_too_often() -> UserError:
    return UserError(
        f"A Ray worker died {RETRIES + 1} times on the same rows (often: out of memory). Try a smaller "
        "--batch-rows, fewer --actors per machine, or machines with more memory."
    )


class Worker:
    """A pool worker: ``work`` on each batch, unless the batch already killed a worker :data:`RETRIES` + 1 times."""

    def __init__(self, text_column: str, precision: str, attempts) -> None:
        self.text_column, self.attempts = text_column, attempts
        _worker_precision(precision)

    def __call__(self, batch: pa.Table) -> pa.Table:
        import hashlib

        import ray

        cells = text_cells(batch.column(self.text_column))
        key = hashlib.sha256()  # the batch: its texts, and its file where Ray says it
        first_path = batch.column(PATH).to_pylist()[:1] if PATH in batch.column_names else []
        for value in (*first_path, *cells):
            key.update(f"{value}\x1f".encode("utf-8", "surrogatepass"))
        if ray.get(self.attempts.start.remote(key.hexdigest())) > RETRIES + 1:
            raise died_too_often()
        return self.work(batch, cells)

    def work(self, batch: pa.Table, cells: list[str | None]) -> pa.Table:
        """``batch`` with this worker's columns added; ``cells``: its texts (None where blank)."""
        raise NotImplementedError


class Embedder(Worker):
    """A worker: one encoder, which adds the ``embedding`` column (null for a blank text) to each batch."""

    def __init__(self, source: str, text_column: str, precision: str, attempts) -> None:
        from .encoders import load_encoder

        super().__init__(text_column, precision, attempts)
        self.encoder = load_encoder(source)

    def work(self, batch: pa.Table, cells: list[str | None]) -> pa.Table:
        import pyarrow as pa

        from .encoders import embed

        rows = [i for i, c in enumerate(cells) if c is not None]
        vectors = embed([cells[i] for i in rows], model=self.encoder, cache=False).embeddings
        full = np.zeros((len(cells), vectors.shape[1]), dtype=np.float32)
        full[rows] = vectors
        blank = np.ones(len(cells), dtype=bool)
        blank[rows] = False
        column = pa.FixedSizeListArray.from_arrays(pa.array(full.reshape(-1)), vectors.shape[1], mask=pa.array(blank))
        return batch.append_column(EMBEDDING, column)


class Predictor(Worker):
    """A worker: one classifier, which adds the columns ``predict_table`` adds to each batch."""

    def __init__(self, source: str, text_column: str, precision: str, attempts) -> None:
        from .classifier import load_classifier

        super().__init__(text_column, precision, attempts)
        self.classifier = load_classifier(source)

    def work(self, batch: pa.Table, cells: list[str | None]) -> pa.Table:
        import pyarrow as pa

        from .cache import MemoryCache, cache_scope
        from .predict import prediction_cells

        taken = [c for c in batch.column_names if c != PATH]
        with cache_scope(MemoryCache()):  # this batch's own: no worker writes the disk cache
            found = prediction_cells(self.classifier, cells, taken)
        for j, name in enumerate(found.names):
            batch = batch.append_column(name, pa.array([row[j] for row in found.rows], pa.string()))
        return batch


WORKERS = {"embed": Embedder, "predict": Predictor}


@contextmanager
def _session(ray, options: RayOptions) -> Iterator[None]:
    """Ray started on this machine (or joined at ``options.address``) and set to keep order, quietly."""
    started = not ray.is_initialized()
    scratch = None  # a local Ray's session files (sockets, logs): removed when it stops
    if started:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves this machine
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if options.address:
                ray.init(address=options.address, **quiet)
            else:
                scratch = tempfile.mkdtemp(prefix="xlmr-ray-")
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _temp_dir=scratch, **quiet)
        except ConnectionError as exc:
            raise UserError(f"Could not join the Ray cluster at {options.address}: {exc}") from exc
    context = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": False, "raise_original_map_exception": True}  # a worker's UserError as it is
    before = context.execution_options.preserve_order, {name: getattr(context, name) for name in settings}
    context.execution_options.preserve_order = True
    for name, value in settings.items():
        setattr(context, name, value)
    log = logging.getLogger("ray.data")
    level = log.level
    log.setLevel(logging.CRITICAL)  # a failure is raised here, with its traceback
    try:
        if not options.address:  # a cluster joined may grow on demand
            _check_resources(ray, options)
        with warnings.catch_warnings():  # advice for Ray programmers (such as an actor pool wider than the data)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.")
            yield
    except ray.exceptions.RayError as exc:
        cause = _worker_user_error(ray, exc)
        if cause is None:
            raise
        raise cause from exc
    finally:
        context.execution_options.preserve_order = before[0]
        for name, value in before[1].items():
            setattr(context, name, value)
        log.setLevel(level)
        if started:
            ray.shutdown()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _worker_user_error(ray, exc: BaseException) -> UserError | None:
    """What failed the job in words, if a user can fix it: a worker's :class:`UserError`, a file Ray could
    not read or parse (a RayTaskError keeps the original exception as ``.cause``), or a worker that died
    on every try (a worker that failed to start, on a UserError, also counts as dead: its cause comes first)."""
    import pyarrow as pa

    cause = getattr(exc, "cause", None)
    if isinstance(cause, UserError):
        return UserError(str(cause).splitlines()[0])  # Ray appends its retry advice to the message
    if isinstance(cause, pa.ArrowException | UnicodeError):
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return UserError(f"Ray could not read the input files: {first[:300]}")
    if isinstance(exc, ray.exceptions.ActorDiedError):
        return died_too_often()
    return None


def cpus_per_actor(ray, options: RayOptions) -> float:
    """``--cpus-per-actor``, or by default the cluster's CPUs less one (for Ray's read tasks) shared by the
    actors, at least half a CPU each: 0.5 each on 2 cores (a whole CPU each would leave none to read the
    files, and the job would wait forever), 7.5 each on 16. Ray gives an actor as many threads as whole CPUs."""
    if options.cpus_per_actor is not None:
        return options.cpus_per_actor
    return max(0.5, (ray.cluster_resources().get("CPU", 1) - 1) / options.actors)


def _check_resources(ray, options: RayOptions) -> None:
    """Refuse an actor pool this machine's Ray cannot hold (Ray would wait for it forever)."""
    have = ray.cluster_resources()
    for what, each in (("CPU", cpus_per_actor(ray, options)), ("GPU", options.gpus_per_actor)):
        if each and options.actors * each > have.get(what, 0):
            flag = f"--{what.lower()}s-per-actor"
            raise UserError(
                f"{options.actors} actors x {flag} {each:g} need {options.actors * each:g} {what}s; "
                f"the Ray cluster has {have.get(what, 0):g}. Use fewer --actors or a smaller {flag}."
            )


def _results(
    ray, ds, task: str, source: str, text_column: str, precision: str, rows: int, options: RayOptions
) -> Iterator[pa.Table]:  # fmt: skip
    """``ds`` (about ``rows`` rows) through a pool of ``task``'s workers, in order, as Arrow tables.

    Batches are cut so that every actor gets some: at most ``options.batch_rows`` rows, fewer on small data.
    """
    batch_rows = max(1, min(options.batch_rows, -(-rows // options.actors)))
    attempts = ray.remote(num_cpus=0)(Attempts).remote()
    ds = ds.repartition(target_num_rows_per_block=batch_rows).map_batches(
        WORKERS[task],
        fn_constructor_kwargs={
            "source": source,
            "text_column": text_column,
            "precision": precision,
            "attempts": attempts,
        },
        batch_format="pyarrow",
        batch_size=batch_rows,
        compute=ray.data.ActorPoolStrategy(size=options.actors),
        num_cpus=cpus_per_actor(ray, options),
        num_gpus=options.gpus_per_actor,
    )  # an actor that dies is restarted and its batch run again; the Attempts ledger ends that after RETRIES
    return ds.iter_batches(batch_format="pyarrow", batch_size=None)


def run(plan: Plan, options: RayOptions = RayOptions(), progress: Progress | None = None) -> Done:
    """Make the parts ``plan`` still needs on Ray, then assemble the output file if it is one."""
    stage = {"embed": "embedding", "predict": "predicting"}[plan.task]
    counts = {"rows": 0, "blank": 0}
    if plan.todo:
        ray = _ray()
        with _session(ray, options):
            if not plan.resume:
                _start_parts(plan)
            paths = [str(plan.files[i]) for i in plan.todo]
            common = {"include_paths": True, "partitioning": None, "file_extensions": None}
            if plan.format == "csv":
                ds = ray.data.read_csv(paths, **common, **_csv_args(plan.csv_columns, plan.delimiter))
            elif plan.format == "parquet":
                ds = ray.data.read_parquet(paths, **common)
            else:
                ds = ray.data.read_json(paths, **common)

            def done(table: pa.Table) -> None:
                counts["rows"] += len(table)
                counts["blank"] += sum(c is None for c in text_cells(table.column(plan.text_column)))
                if progress:
                    progress(Step(stage, counts["rows"], max(plan.rows, counts["rows"] + 1)))

            precision = plan.manifest["precision"]
            batches = _results(ray, ds, plan.task, plan.source, plan.text_column, precision, plan.rows, options)
            _write_parts(batches, plan, done)
        if progress:
            progress(Step(stage, counts["rows"], counts["rows"]))
    if plan.output != plan.parts:
        _assemble([part_path(plan.parts, i) for i in range(len(plan.files))], plan.output)
        shutil.rmtree(plan.parts)
    return Done(output=plan.output, rows=counts["rows"], blank=counts["blank"])


def _slices(batches: Iterable[pa.Table], index: dict[str, int]) -> Iterator[tuple[int, pa.Table]]:
    """(input index, rows of that input) from batches whose rows may come from several inputs."""
    for batch in batches:
        paths = batch.column(PATH).to_pylist()
        batch = batch.drop_columns([PATH])
        start = 0
        for path, run_ in groupby(paths):
            n = sum(1 for _ in run_)
            yield index[path], batch.slice(start, n)
            start += n


def _write_parts(batches: Iterable[pa.Table], plan: Plan, done) -> None:
    """Write each input's rows to its part, each through a temporary sibling renamed when complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = {str(plan.files[i]): i for i in plan.todo}
    written: set[int] = set()
    schema = pa.schema([])
    for i, group in groupby(_slices(batches, index), key=itemgetter(0)):
        if i in written:  # preserve_order makes this impossible; a part written twice would lose rows
            raise RuntimeError(f"Ray returned rows of {plan.files[i].name} out of order")
        schema = _write_part(part_path(plan.parts, i), (table for _, table in group), done)
        written.add(i)
    for i in set(plan.todo) - written:  # an input without rows: an empty part, so that it counts as done
        write_file_atomically(part_path(plan.parts, i), lambda tmp: pq.write_table(schema.empty_table(), tmp))


def _write_part(path: Path, tables: Iterable[pa.Table], done) -> pa.Schema:
    """Stream ``tables`` into the Parquet file ``path`` (atomically); its schema is the first table's."""
    import pyarrow.parquet as pq

    schema = None

    def write(tmp: Path) -> None:
        nonlocal schema
        writer = None
        try:
            for table in tables:
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(conform(table, schema))
                done(table)
        finally:
            if writer is not None:
                writer.close()

    write_file_atomically(path, write)
    return schema


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns: a missing one null, the others cast; a column beyond them must be empty.

    Rows of several files with different columns come back from Ray with all of their columns.
    """
    import pyarrow as pa

    extra = [c for c in table.column_names if c not in schema.names and table.column(c).null_count < len(table)]
    if extra:
        raise UserError(
            f"Rows of one input have different columns ({columns_text(extra)} appear part-way through); "
            "give files whose rows all have the same columns."
        )
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _assemble(parts: list[Path], output: Path) -> None:
    """The parts, in order, as one .parquet, .csv or .npy file (written atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")

    def tables() -> Iterator[pa.Table]:
        for p in parts:
            for batch in pq.ParquetFile(p).iter_batches():
                yield conform(pa.Table.from_batches([batch]), schema)

    suffix = output.suffix.lower()
    if suffix == ".npy":
        dim = schema.field(EMBEDDING).type.list_size
        save_npy(output, np.concatenate([_vectors(t.column(EMBEDDING)) for t in tables()] or [np.zeros((0, dim))]))
    elif suffix == ".parquet":

        def write(tmp: Path) -> None:
            with pq.ParquetWriter(tmp, schema) as writer:
                for table in tables():
                    writer.write_table(table)

        write_file_atomically(output, write)
    else:
        write_file_atomically(output, lambda tmp: _write_csv(tmp, schema, tables()))


def _matrix(column) -> tuple[np.ndarray, np.ndarray]:
    """An embedding column as a float32 array (n, dim), zeros where null, and which rows are not null."""
    array = column.combine_chunks()
    dim = array.type.list_size
    values = array.values.slice(array.offset * dim, len(array) * dim).to_numpy(zero_copy_only=False)
    return values.reshape(len(array), dim), array.is_valid().to_numpy(zero_copy_only=False)


def _vectors(column) -> np.ndarray:
    """The non-null embeddings of an embedding column, in order: float32, (n, dim)."""
    vectors, valid = _matrix(column)
    return vectors[valid]


def _write_csv(path: Path, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
    """CSV as :func:`xlmr_demo.writers.write_table` writes it (UTF-8 with BOM, formula-like cells neutralised);
    an embedding becomes one column per dimension, ``e0``, ``e1``, ..."""
    header = []
    for f in schema:
        header += [f"e{d}" for d in range(f.type.list_size)] if f.name == EMBEDDING else [f.name]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise(c) for c in header])
        for table in tables:
            columns = []
            for f in schema:
                if f.name == EMBEDDING:
                    vectors, valid = _matrix(table.column(f.name))
                    numbers = np.char.mod("%.9g", vectors).astype(object)  # 9 digits: float32 exactly
                    numbers[~valid] = ""
                    columns += list(numbers.T)
                else:
                    columns.append(["" if v is None else neutralise(str(v)) for v in table.column(f.name).to_pylist()])
            writer.writerows(zip(*columns, strict=True))


def embed_texts(
    texts: Sequence[str], model: str, options: RayOptions = RayOptions(), progress: Progress | None = None
) -> np.ndarray:
    """Embed non-blank ``texts`` on Ray: float32 array (len(texts), dim), L2-normalised, in order (as ``embed``)."""
    import pyarrow as pa

    from .encoders import load_encoder

    ray = _ray()
    load_encoder(model)  # refuses an unknown model before Ray starts
    chunks, done = [], 0
    with _session(ray, options):
        ds = ray.data.from_arrow(pa.table({"text": pa.array(list(texts), pa.string())}))
        for batch in _results(ray, ds, "embed", _model_source(model), "text", _precision(model), len(texts), options):
            chunks.append(_vectors(batch.column(EMBEDDING)))
            done += len(batch)
            if progress:
                progress(Step("embedding", done, len(texts)))
    return np.concatenate(chunks)
