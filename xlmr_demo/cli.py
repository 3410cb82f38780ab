"""Command line: ``python -m xlmr_demo {embed,train,predict,evaluate,zero-shot,map,tokens,layers,fill-mask}
...`` (``--help`` on each).

User errors print one ``error: ...`` line on stderr and exit with status 2. Outputs are checked
before any work starts: an output that is also an input is refused, and an existing one is
replaced only with ``--overwrite``. Files are written through temporary siblings that are removed
on every exit, Ctrl-C and ``kill`` included.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from pathlib import Path

from .commands import run_cli
from .errors import UserError
from .models import EMBEDDED_NAME
from .progress import Pace, Step, duration
from .table import rows_text
from .writers import TABLE_SUFFIXES, output_file, output_folder, save_npy, write_file_atomically

CLASSIFIER_HELP = (
    "a classifier folder from 'train' or fine-tuned by finetune.text_classification, or a classifier .zip "
    "downloaded from the app's Train tab"
)


def _progress_printer():
    """Embedding progress as a tqdm bar on a terminal."""
    from tqdm.auto import tqdm

    bar = None

    def update(step: Step) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=step.total, unit="text", desc=step.stage, file=sys.stderr, disable=not sys.stderr.isatty())
        bar.update(step.done - bar.n)
        if step.done >= step.total:
            bar.close()

    return update


RAY_OPTIONS = ("address", "actors", "cpus_per_actor", "gpus_per_actor", "batch_rows")


def _ray_options(args: argparse.Namespace):
    """The Ray options of ``--engine ray`` (None for the local engine, which refuses them and several inputs)."""
    from .ray_engine import RayOptions

    given = {name: getattr(args, name) for name in RAY_OPTIONS if getattr(args, name) is not None}
    if args.engine == "ray":
        return RayOptions(**given)
    if given:
        raise UserError(f"--{next(iter(given)).replace('_', '-')} applies to --engine ray.")
    if len(getattr(args, "inputs", None) or ()) > 1:
        raise UserError("Several inputs need --engine ray; the local engine reads one file.")
    return None


def _run_on_ray(plan, options, verb: str, column_option: str) -> None:
    """Run a checked Ray job, saying what was decided and what was written."""
    from .ray_engine import run

    if plan.detected:
        print(f"note: {verb} column {plan.text_column!r} (choose another with {column_option}).", file=sys.stderr)
    if plan.skipped:
        print(f"note: skipped {plan.skipped} finished part(s) in {plan.parts}.", file=sys.stderr)
    done = run(plan, options, progress=_progress_printer())
    blank = f"; {done.blank} blank text(s) got none" if done.blank else ""
    print(
        f"wrote {done.output}: {done.rows} row(s) of {len(plan.todo)} file(s) on Ray ({len(plan.files)} in all{blank})",
        file=sys.stderr,
    )


def cmd_embed(args: argparse.Namespace) -> None:
    from .encoders import embed
    from .texts import read_texts

    options = _ray_options(args)
    if options is not None:
        from .ray_engine import plan_embed

        plan = plan_embed(args.inputs, args.output, args.model, args.column, overwrite=args.overwrite)
        _run_on_ray(plan, options, "embedding", "--column")
        return
    (source,) = args.inputs
    output = output_file(args.output, (".npy",), "--output", inputs=[source], overwrite=args.overwrite)
    data = read_texts(source, column=args.column)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    if data.blank_rows:
        print(
            f"note: skipped {len(data.blank_rows)} blank row(s) ({rows_text(data.blank_rows)}); "
            f"{output.name} holds the other {len(data.texts)} in input order.",
            file=sys.stderr,
        )
    if data.column is not None and args.column is None:
        print(f"note: embedding column {data.column!r} (choose another with --column).", file=sys.stderr)
    result = embed(data.texts, model=args.model, cache=not args.no_cache, progress=_progress_printer())
    if result.truncated_rows:
        rows = [data.rows[i] for i in result.truncated_rows]
        print(
            f"note: {len(rows)} text(s) longer than {result.encoder.max_length} tokens were truncated "
            f"(rows {rows_text(rows)}).",
            file=sys.stderr,
        )
    save_npy(output, result.embeddings)
    print(
        f"wrote {output}: {result.embeddings.shape[0]} x {result.embeddings.shape[1]} float32 "
        f"({result.n_cached} from cache) with {result.encoder.name}",
        file=sys.stderr,
    )


def _stage_printer():
    """Progress of long work on standard error: one updating line with the time left on a terminal,
    a line per stage (with its start time) when the output goes to a file or a pipe."""
    pace, started = Pace(), time.monotonic()
    last = {"stage": None, "open": False}  # open: the terminal's line is unfinished

    def update(step: Step) -> None:
        text = pace.describe(step)
        new_stage = step.stage != last["stage"]
        last["stage"] = step.stage
        if not sys.stderr.isatty():
            if new_stage:
                print(f"[{duration(time.monotonic() - started)}] {step.stage}", file=sys.stderr, flush=True)
            return
        if new_stage and last["open"]:
            print(file=sys.stderr)
        last["open"] = step.fraction < 1
        end = "" if last["open"] else "\n"
        print(f"\r{text}: {step.fraction:4.0%}\033[K", end=end, file=sys.stderr, flush=True)

    return update


def _columns(args: argparse.Namespace) -> dict[str, str | None]:
    return {
        "text_column": args.text_column,
        "label_column": args.label_column,
        "language_column": args.language_column,
        "split_column": getattr(args, "split_column", None),
        "group_column": getattr(args, "group_column", None),
    }


def _say_dataset(dataset, name: str, evaluating: bool = False) -> None:
    m = dataset.columns
    split = "all rows evaluated" if evaluating else f"split={m.split or 'stratified'} group={m.group or 'found'}"
    print(
        f"{name}: {len(dataset.texts)} rows; text={m.text!r} label={m.label!r} "
        f"language={m.language or 'detected'} {split}",
        file=sys.stderr,
    )
    for note in dataset.notes:
        print(f"note: {note}", file=sys.stderr)
    for warning in dataset.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _summary(metrics: dict, unit: str = "meaning groups") -> str:
    from .metrics import ci_text, classification_report
    from .training import MIN_TRUSTED_ROWS

    lines = [classification_report(metrics), ""]
    if metrics.get("multi_label"):
        lines.append(
            f"micro-F1 {ci_text(metrics['micro_f1'], metrics.get('micro_f1_ci'))}, macro-F1 "
            f"{ci_text(metrics['macro_f1'], metrics.get('macro_f1_ci'))}, samples-F1 "
            f"{ci_text(metrics['samples_f1'], metrics.get('samples_f1_ci'))}, every label right "
            f"{ci_text(metrics['accuracy'], metrics.get('accuracy_ci'))} (95% bootstrap intervals over {unit})"
        )
    else:
        lines.append(
            f"macro-F1 {ci_text(metrics['macro_f1'], metrics.get('macro_f1_ci'))}, accuracy "
            f"{ci_text(metrics['accuracy'], metrics.get('accuracy_ci'))} (95% bootstrap intervals over {unit})"
        )
    if metrics.get("leaked_test_rows"):
        lines.append(
            f"warning: {metrics['leaked_test_rows']} test rows have a translation or copy among the training rows"
        )
        unseen = metrics.get("unseen_meanings")
        if unseen:
            lines.append(
                f"without them ({unseen['n']} rows): macro-F1 {ci_text(unseen['macro_f1'], unseen['macro_f1_ci'])}, "
                f"accuracy {ci_text(unseen['accuracy'], unseen['accuracy_ci'])}"
            )
    if metrics.get("unseen_labels"):
        lines.append(
            f"warning: {len(metrics['unseen_labels'])} label(s) of the measured rows were never in training (always "
            f"wrong): {', '.join(metrics['unseen_labels'][:10])}"
        )
    lines.append("")
    if "per_language" in metrics:
        right = "all labels right" if metrics.get("multi_label") else "accuracy"
        lines.append(f"{'language':>10}  {'macro-F1 (95% interval)':>26}  {right + ' (95% interval)':>26}  {'rows':>6}")
        for lang, r in metrics["per_language"].items():
            f1, acc = ci_text(r["macro_f1"], r.get("macro_f1_ci")), ci_text(r["accuracy"], r.get("accuracy_ci"))
            lines.append(f"{lang:>10}  {f1:>26}  {acc:>26}  {r['n']:6d}")
    if "transfer" in metrics:
        t = metrics["transfer"]
        lines += [
            "",
            "cross-lingual transfer (macro-F1 [rows]; rows: trained on, columns: evaluated on, on meanings "
            "the trained-on language never saw)",
        ]
        lines.append(" " * 10 + "".join(f"{lang:>14}" for lang in t["eval_languages"]))
        for lang, row, sizes in zip(t["train_languages"], t["macro_f1"], t["eval_rows"], strict=True):
            cells = ("-" if v is None else f"{v:.3f}" for v in row)
            lines.append(f"{lang:>10}" + "".join(f"{c + f' [{n}]':>14}" for c, n in zip(cells, sizes, strict=True)))
        if min(min(sizes) for sizes in t["eval_rows"]) < MIN_TRUSTED_ROWS:
            lines.append(f"(cells of fewer than {MIN_TRUSTED_ROWS} rows are too few to trust)")
    return "\n".join(lines)


def cmd_train(args: argparse.Namespace) -> None:
    from .dataset import DataConfig, load_dataset
    from .heads import HeadConfig
    from .saved import is_saved_classifier
    from .training import train_classifier

    inputs = [args.data] + ([args.eval] if args.eval else [])
    output_folder(args.output, "--output", replaceable=is_saved_classifier, inputs=inputs, overwrite=args.overwrite)
    if args.report:
        output_file(args.report, (".html", ".htm"), "--report", inputs=inputs, overwrite=args.overwrite)
    if args.label_separator and not args.multi_label:
        raise UserError("--label-separator goes with --multi-label.")
    separator = (args.label_separator or "auto") if args.multi_label else None
    dataset = load_dataset(args.data, DataConfig(seed=args.seed, label_separator=separator), **_columns(args))
    _say_dataset(dataset, Path(args.data).name)
    eval_dataset = None
    if args.eval:
        columns = {**_columns(args), "split_column": None}
        config = DataConfig(seed=args.seed, label_separator=dataset.config.label_separator)
        eval_dataset = load_dataset(args.eval, config, purpose="evaluate", **columns)
        _say_dataset(eval_dataset, Path(args.eval).name, evaluating=True)
    config = HeadConfig(kind=args.head, seed=args.seed)
    result = train_classifier(dataset, args.model, config, eval_dataset=eval_dataset, progress=_stage_printer())
    from .views import grouping_words

    if result.training["head"].get("chosen") and result.classifier.head.config.kind == "prototypes":
        from .views import few_rows_words

        print("note: " + few_rows_words(result.training["head"]), file=sys.stderr)
    groups = result.training["groups"]
    if groups.get("source") in ("found", "column"):
        print("note: " + re.sub(r"[*]", "", grouping_words(groups)).replace("\n\n- ⚠️ ", "\nwarning: "), file=sys.stderr)
    folder = result.classifier.save(
        args.output, result.metrics, result.training, label_issues=result.label_issues, overwrite=args.overwrite
    )
    if args.report:
        from .views import write_training_report

        write_training_report(result, args.report, dataset)
    print(_summary(result.metrics))
    from .views import more_rows_words

    if result.metrics.get("learning_curve"):
        print("\n" + _plain(more_rows_words(result)))
    print(
        f"\nmacro-F1 {result.metrics['macro_f1']:.4f} on the {result.metrics['evaluated_on']}; "
        f"saved the classifier to {folder}",
        file=sys.stderr,
    )


def cmd_predict(args: argparse.Namespace) -> None:
    from .classifier import load_classifier
    from .predict import predict_file

    options = _ray_options(args)
    if options is not None:
        from .ray_engine import plan_predict

        if args.text is not None or not args.inputs or not args.output:
            raise UserError("With --engine ray, give files to predict and --output (a folder, .parquet or .csv).")
        plan = plan_predict(args.inputs, args.output, args.head_dir, args.text_column, overwrite=args.overwrite)
        _run_on_ray(plan, options, "predicting", "--text-column")
        return
    data = args.inputs[0] if args.inputs else None
    if args.output:
        inputs = [args.head_dir] + ([data] if data else [])
        output_file(args.output, TABLE_SUFFIXES, "--output", inputs=inputs, overwrite=args.overwrite)
    classifier = load_classifier(args.head_dir)
    if args.text is not None:
        if classifier.multi_label:
            print("labels: " + (", ".join(classifier.predict_sets([args.text])[0]) or "(none over its threshold)"))
        for label, p in classifier.scores(args.text):
            print(f"{p:.4f}  {label}")
        return
    if not data or not args.output:
        raise UserError("Give a file to predict and --output OUT.csv, or --text 'some text'.")
    result = predict_file(classifier, data, args.output, args.text_column, progress=_stage_printer())
    if result.n_blank:
        print(f"note: {result.n_blank} row(s) with an empty text got no prediction.", file=sys.stderr)
    print(f"wrote {args.output}: {len(result.table)} rows, text column {result.text_column!r}", file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> None:
    import json

    from .classifier import load_classifier
    from .dataset import DataConfig, load_dataset
    from .training import evaluate

    classifier = load_classifier(args.head_dir)
    config = DataConfig(label_separator="auto" if classifier.multi_label else None)
    dataset = load_dataset(args.data, config, purpose="evaluate", **_columns(args))
    _say_dataset(dataset, Path(args.data).name, evaluating=True)
    print(json.dumps(evaluate(classifier, dataset), indent=2, ensure_ascii=False))


def cmd_map(args: argparse.Namespace) -> None:
    from .classifier import load_classifier
    from .limits import current as current_limits
    from .maps import add_predictions, build_map, write_coords
    from .projection import ProjectionConfig
    from .search import check_query, find_on_map, rows_table
    from .views import summary_lines, write_map_html

    options = _ray_options(args)
    if options is not None and current_limits().map_points is not None:  # build_map would map a sample of the rows
        raise UserError(
            "--engine ray maps every row; it does not run with a map size limit (XLMR_DEMO_MAX_MAP_POINTS)."
        )
    inputs = [args.data] + ([args.head] if args.head else [])
    output = output_file(args.output, (".html", ".htm"), "The map", inputs=inputs, overwrite=args.overwrite)
    if args.coords:
        suffixes = (".csv", ".tsv", ".parquet")
        output_file(args.coords, suffixes, "--coords", inputs=[*inputs, output], overwrite=args.overwrite)
    if args.search is not None:
        check_query(args.search)  # before the map is drawn
    data = _rows(args)
    if args.head:
        add_predictions(data, load_classifier(args.head))
    config = ProjectionConfig(method=args.method or "auto", dims=args.dims, center_languages=args.center_languages)
    embeddings = None
    if options is not None:
        from .ray_engine import embed_texts

        embeddings = embed_texts(data.texts, args.model, options, progress=_progress_printer())
    result = build_map(
        data, args.model, config, color=args.color, progress=_stage_printer(), embeddings=embeddings,
        clusters=args.clusters, names_language=args.names_language,
    )  # fmt: skip
    found = find_on_map(result, args.search) if args.search is not None else None
    write_map_html(result, output, found=found)
    if args.coords:
        write_coords(result, args.coords)
    for line in summary_lines(result):
        print(line, file=sys.stderr)
    if result.clusters is not None:
        headers, rows = result.clusters.table()
        print("\t".join(headers), *("\t".join(map(str, row)) for row in rows), sep="\n", file=sys.stderr)
    if found is not None:
        print(_plain(found.words(markup=False)), file=sys.stderr)
        table = rows_table(result, found.rows, found)
        csv.writer(sys.stdout, delimiter="\t", lineterminator="\n").writerows([table.columns, *table.rows])
    print(f"wrote {output}" + (f" and {args.coords}" if args.coords else ""), file=sys.stderr)


def _write_json(path: Path | None, payload: dict) -> None:
    if path is not None:
        write_file_atomically(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False)))
        print(f"wrote {path}", file=sys.stderr)


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("ℹ️ ", "note: ")


def cmd_tokens(args: argparse.Namespace) -> None:
    from .inside_views import pieces_summary, reading_headers, reading_rows, reading_words
    from .tokens import pieces, reading

    if (args.data is None) == (args.text is None):
        raise UserError("Give a file of texts, or one --text (not both).")
    if args.text is not None:
        if args.output:
            raise UserError("--output writes the figures of a file's rows; the pieces of one --text are printed.")
        print(_plain(pieces_summary(pieces(args.text, args.model))).replace("`", ""))
        return
    output = output_file(args.output, (".json",), "--output", inputs=[args.data], overwrite=args.overwrite) if (
        args.output) else None  # fmt: skip
    data = _rows(args)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    found = reading(data.texts, data.languages, args.model, _stage_printer(), data.groups)
    print("\t".join(reading_headers(found)))
    for row in reading_rows(found):
        print("\t".join(map(str, row)))
    print("\n" + _plain(reading_words(found)), file=sys.stderr)
    _write_json(output, found.to_json())


def cmd_layers(args: argparse.Namespace) -> None:
    from .inside_views import layer_words
    from .layers import layer_name, layer_sweep, with_translations

    inputs = [args.data]
    output = output_file(args.output, (".json",), "--output", inputs=inputs, overwrite=args.overwrite) if (
        args.output) else None  # fmt: skip
    data = _rows(args)
    progress = _stage_printer()
    sweeps = {}
    if args.before:  # the same translations for both models: the fine-tuned one's sentence vectors find them
        from .encoders import load_encoder

        data, grouping = with_translations(data, load_encoder(args.model), progress)
        sweeps["before"] = layer_sweep(data, args.before, progress, grouping)
        sweeps["after"] = layer_sweep(data, args.model, progress, grouping)
    else:
        sweeps[args.model] = layer_sweep(data, args.model, progress)
    for title, sweep in sweeps.items():
        languages = list(sweep.per_language_queries)
        print("\t".join(["model", "layer", "all", "95% range", "averages out", *languages]))
        for s in sweep.scores:
            ci = f"{s.ci[0]:.3f}-{s.ci[1]:.3f}" if s.ci else ""
            per = [f"{s.per_language.get(lang, float('nan')):.3f}" for lang in languages]
            print("\t".join([title, layer_name(s.layer), f"{s.accuracy:.3f}", ci, f"{s.centred:.3f}", *per]))
    print("\n" + _plain(layer_words(sweeps)), file=sys.stderr)
    if len(sweeps) == 1:
        _write_json(output, next(iter(sweeps.values())).to_json())
    else:
        _write_json(output, {title: sweep.to_json() for title, sweep in sweeps.items()})


def cmd_fill_mask(args: argparse.Namespace) -> None:
    from .fill_mask import fill_mask

    filled = fill_mask(args.text, args.model, args.top)
    print(filled.best)
    for n, guesses in enumerate(filled.blanks, 1):
        print(f"blank {n}: " + ", ".join(f"{g.text} ({g.probability:.1%})" for g in guesses))


def cmd_zero_shot(args: argparse.Namespace) -> None:
    from .readers import read_table
    from .writers import write_table
    from .zero_shot import ZeroShotClassifier, parse_labels, read_descriptions, zero_shot_table

    labels = parse_labels(args.labels)
    descriptions = read_descriptions(args.descriptions, labels) if args.descriptions else {}
    if args.text is not None:
        if args.data or args.output:
            raise UserError("Give a file and --output, or --text alone.")
        if not args.text.strip():
            raise UserError("Type a text to classify after --text.")
        for label, p in ZeroShotClassifier(labels, descriptions, args.model).scores(args.text):
            print(f"{p:.4f}  {label}")
        return
    if not args.data or not args.output:
        raise UserError("Give a file to classify and --output OUT.csv, or --text 'some text'.")
    inputs = [args.data] + ([args.descriptions] if args.descriptions else [])
    output_file(args.output, TABLE_SUFFIXES, "--output", inputs=inputs, overwrite=args.overwrite)
    found = zero_shot_table(
        read_table(args.data), labels, descriptions, args.model, args.text_column, args.label_column,
        args.language_column, _stage_printer(), Path(args.data).name,
    )  # fmt: skip
    write_table(found.predictions.table, args.output)
    for note in found.notes:
        print(f"note: {note}", file=sys.stderr)
    if found.metrics:
        print(_summary(found.metrics, "meaning groups" if found.group_column else "rows"))
        if found.untyped:
            print(
                f"note: {sum(found.untyped.values())} row(s) carry labels not typed and count as wrong (only a typed "
                f"label can be given): {', '.join(sorted(found.untyped, key=found.untyped.get, reverse=True)[:5])}",
                file=sys.stderr,
            )
    print(
        f"wrote {args.output}: {len(found.predictions.table)} rows, text column "
        f"{found.predictions.text_column!r}; nothing was trained (labels from their names)",
        file=sys.stderr,
    )


def _add_row_columns(p: argparse.ArgumentParser, groups: str) -> None:
    """The columns of a file of rows to read as they are (map, tokens, layers): texts, languages, translations."""
    p.add_argument(
        "--group-column", "--pair-column", dest="group_column",
        help=f"column of ids shared by a text and its translations (default: detected){groups}",
    )  # fmt: skip
    p.add_argument("--text-column", help="column holding the texts (default: detected)")
    p.add_argument("--language-column", help="column holding language codes (default: detected per row)")


def _rows(args: argparse.Namespace):
    """The file's rows, columns as the options say (or detected), for map, tokens and layers."""
    from .maps import load_map_data

    return load_map_data(
        args.data, text_column=args.text_column, language_column=args.language_column, pair_column=args.group_column
    )


def _add_column_options(p: argparse.ArgumentParser, split: bool = False) -> None:
    p.add_argument("--text-column", help="column holding the texts (default: detected)")
    p.add_argument("--label-column", help="column holding the labels (default: detected)")
    p.add_argument("--language-column", help="column holding language codes (default: detected per row)")
    if split:
        p.add_argument("--split-column", help="column with train/validation/test (default: a stratified split)")
    p.add_argument(
        "--group-column",
        help="column of ids shared by rows of one meaning: translations, paraphrases, copies (default: detected; "
        "without one, translations and near-copies are found from the embeddings); a group never straddles the split",
    )


def seed(text: str) -> int:
    """An argparse type: a whole number from 0 to 2**32 - 1 (what the random generators accept)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text[:20]!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to {2**32 - 1}")
    return value


def _add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (never an input)")


def at_least(minimum: float, kind: type = int):
    """An argparse type: a ``kind`` number of at least ``minimum``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text[:20]!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"expected a number of at least {minimum:g}")
        return value

    return parse


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: in this process (default); ray: on Ray Data workers, on this machine or the cluster at --address "
        "(pip install 'xlmr_demo[ray]')",
    )
    group = p.add_argument_group("--engine ray")
    group.add_argument("--address", help="join the Ray cluster at this address (default: start Ray on this machine)")
    group.add_argument("--actors", type=at_least(1), help="model workers, each with its own copy of the model (2)")
    group.add_argument(
        "--cpus-per-actor", type=at_least(0, float),
        help="CPUs each worker reserves (default: the cluster's CPUs less one, shared; 0.5 each on 2 cores)",
    )  # fmt: skip
    group.add_argument("--gpus-per-actor", type=at_least(0, float), help="GPUs each worker reserves (0)")
    group.add_argument("--batch-rows", type=at_least(1), help="rows a worker takes at a time (at most; 1024)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xlmr_demo", description="Multilingual embeddings and classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "embed",
        help="embed texts into a .npy file of L2-normalised float32 rows",
        description="Embed each text of INPUT (.txt: one per line; .csv/.tsv: one column). "
        "Blank texts are skipped and reported; OUT keeps input order.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="input", help=".txt, .csv or .tsv file; with --engine ray, CSV, Parquet or JSON "
        "Lines files, folders of them or globs",
    )  # fmt: skip
    p.add_argument(
        "--output", "-o", required=True, help="the .npy file to write, shape (rows, dim); with --engine ray also a "
        "folder of Parquet parts (one per input, an 'embedding' column added), a .parquet or a .csv (e0, e1, ...)",
    )  # fmt: skip
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    p.add_argument("--column", help="the text column of a CSV/TSV (default: detected)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    _add_overwrite(p)
    _add_engine_options(p)
    p.set_defaults(run=cmd_embed)

    p = sub.add_parser(
        "train",
        help="train a classifier head on a labelled file",
        description="Train a classifier on DATA (CSV, TSV, Excel, JSON Lines, Parquet) and save it "
        "to HEAD_DIR with metrics.json. Metrics come from the test split, or from --eval.",
    )
    p.add_argument("data")
    p.add_argument("--output", "-o", required=True, help="folder to save the classifier in")
    _add_column_options(p, split=True)
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    p.add_argument(
        "--head",
        choices=["auto", "by_language", "mlp", "logreg", "prototypes"],
        default="auto",
        help="classifier head (default: auto, which is prototypes with 32 training rows per class or fewer, each "
        "class the average of its examples and label name; else by_language, an MLP for the training languages "
        "and logistic regression for the others)",
    )
    p.add_argument(
        "--multi-label", action="store_true", help="several labels per row (a cell such as 'joy, surprise'): one "
        "yes/no per label, each with its own threshold",
    )  # fmt: skip
    p.add_argument(
        "--label-separator", choices=[",", ";", "|"], help="what separates the labels in a cell (default: detected)"
    )
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--eval", help="a second labelled file to measure on instead of the test split")
    p.add_argument(
        "--report", help="also write a self-contained HTML report (figures, explanations, label errors) to this file"
    )
    _add_overwrite(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("predict", help="predict the labels of a file's rows, or of one --text")
    p.add_argument("head_dir", metavar="CLASSIFIER", help=CLASSIFIER_HELP)
    p.add_argument(
        "inputs", nargs="*", metavar="data", help="the file to predict; with --engine ray, CSV, Parquet or JSON Lines "
        "files, folders of them or globs",
    )  # fmt: skip
    p.add_argument(
        "--output", "-o", help="CSV, TSV or Excel (.xlsx, every cell text) to write: the input rows plus predictions; "
        "with --engine ray a folder of Parquet parts (one per input), a .parquet or a .csv",
    )  # fmt: skip
    p.add_argument("--text-column", help="column holding the texts (default: detected)")
    p.add_argument("--text", help="predict this one text and print every label's probability")
    _add_overwrite(p)
    _add_engine_options(p)
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("evaluate", help="measure a saved classifier on a labelled file (prints JSON)")
    p.add_argument("head_dir", metavar="CLASSIFIER", help=CLASSIFIER_HELP)
    p.add_argument("data")
    _add_column_options(p)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser(
        "map",
        help="draw an interactive map of the texts' embeddings (HTML)",
        description="Embed DATA's texts, project them to 2D/3D and write an offline HTML page "
        "with the map, how well translations line up, and language centroids.",
    )
    p.add_argument("data")
    p.add_argument("--output", "-o", required=True, help="the .html file to write")
    p.add_argument("--coords", help="also write the rows with x, y (, z) to this CSV, TSV or Parquet file")
    p.add_argument(
        "--method",
        choices=["umap", "tsne", "pca"],
        help="projection (default: t-SNE; in 3D, UMAP above 5,000 points; chosen by measurement)",
    )
    p.add_argument("--dims", type=int, choices=[2, 3], default=2)
    p.add_argument(
        "--color",
        default="language",
        help="colour points by 'language' or another column ('predicted_label', 'correct' with --head)",
    )
    p.add_argument("--head", help=CLASSIFIER_HELP + "; adds predicted_label and correct (yes/no) to colour by")
    p.add_argument(
        "--clusters", nargs="?", const="auto", metavar="N",
        help="find named clusters (N of them, or as many as the rows suggest): shown on the map, listed on stderr, "
        "and 'cluster', 'cluster_name' columns in --coords; --color cluster colours by them",
    )  # fmt: skip
    p.add_argument(
        "--names-language", default="en", metavar="LANG",
        help="name clusters with words of this language where a cluster has rows in it (default en; else the "
        "file's most common language)",
    )  # fmt: skip
    p.add_argument(
        "--search", metavar="QUERY",
        help="find rows by meaning and by words (accents and case ignored): highlighted on the map, listed on "
        "stdout (tab-separated)",
    )  # fmt: skip
    _add_row_columns(p, "")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--center-languages",
        dest="center_languages",
        action="store_true",
        default=True,
        help="remove language identity before projecting (default)",
    )
    group.add_argument(
        "--keep-languages",
        dest="center_languages",
        action="store_false",
        help="project the raw embeddings, language identity included",
    )
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    _add_overwrite(p)
    _add_engine_options(p)
    p.set_defaults(run=cmd_map)

    p = sub.add_parser(
        "tokens",
        help="how the model reads text: its pieces, per language (pieces per word, rows cut at its limit)",
        description="With DATA: per language, pieces per word and per 100 characters, rows longer than the model "
        "reads, unknown characters (a tab-separated table on stdout, the explanation on stderr). With --text: that "
        "text's pieces.",
    )
    p.add_argument("data", nargs="?", help="CSV, TSV, Excel, JSON Lines or Parquet file of texts")
    p.add_argument("--text", help="show how the model cuts this one text instead")
    p.add_argument("--output", "-o", help="also write the figures as JSON to this file")
    _add_row_columns(p, ": each language's pieces for the same meanings are compared with English's")
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    _add_overwrite(p)
    p.set_defaults(run=cmd_tokens)

    p = sub.add_parser(
        "layers",
        help="where languages meet: translation retrieval at every layer of the model",
        description="For the rows of DATA that have a translation in another language (a group column, or found "
        "by the model), how often each row's most similar row in another language is its translation, at every "
        "layer from the word embeddings up (mean-pooled hidden states). A table on stdout; --output writes JSON.",
    )
    p.add_argument("data")
    p.add_argument("--output", "-o", help="the .json to write: one entry per layer, overall and per language")
    _add_row_columns(p, "; without one, the model finds translations")
    p.add_argument(
        "--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder (fine-tuned too)"
    )
    p.add_argument("--before", help="also measure this model (e.g. the one --model was fine-tuned from), side by side")
    _add_overwrite(p)
    p.set_defaults(run=cmd_layers)

    p = sub.add_parser(
        "zero-shot",
        help="classify a file's rows from label names alone, with no labelled rows",
        description="Classify each row of DATA into one of --labels by the model alone: nothing is trained. Writes "
        "the rows with predicted_label, confidence and one prob_<label> column per label. Where DATA has a label "
        "column (named label, category, ...; or --label-column), prints the figures on its rows.",
    )
    p.add_argument("data", nargs="?", help="CSV, TSV, Excel, JSON Lines or Parquet file of texts")
    p.add_argument("--labels", required=True, help="the label names, comma-separated (any language): 'a,b,c'")
    p.add_argument(
        "--descriptions", help="a UTF-8 text file, one line per label: 'label: a sentence saying what it means'"
    )
    p.add_argument("--output", "-o", help="CSV, TSV or Excel (.xlsx) to write: the input rows plus predictions")
    p.add_argument("--text", help="classify this one text and print every label's share")
    p.add_argument("--text-column", help="column holding the texts (default: detected)")
    p.add_argument("--label-column", help="column holding true labels, to measure on (default: found by its name)")
    p.add_argument("--language-column", help="column holding language codes (default: detected per row)")
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    _add_overwrite(p)
    p.set_defaults(run=cmd_zero_shot)

    p = sub.add_parser(
        "fill-mask",
        help="the model's guesses for a hidden word: type <mask> where it is",
        description="Masked language modelling, XLM-R's pre-training task: the top guesses for each <mask> of "
        "TEXT. Needs a model that keeps its masked-LM head (xlm-roberta-base; not the embedded model).",
    )
    p.add_argument("text")
    p.add_argument("--model", default="xlm-roberta-base", help="a Hugging Face id or folder with a masked-LM head")
    p.add_argument("--top", type=at_least(1), default=5, help="guesses per blank (5)")
    p.set_defaults(run=cmd_fill_mask)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)
