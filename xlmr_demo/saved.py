"""Saved classifiers: the files xlmr_demo writes and reads back, in one place.

- **Head folder** (``xlmr_demo train``): ``head.safetensors`` (tensors), ``config.json`` (format
  :data:`FORMAT`, labels, encoder name and fingerprint, dims, head and training settings, creation
  time), ``metrics.json`` and ``label_issues.json`` when there are any.
- **Head archive** (the app's download): the same files in one .zip, read back in memory (never
  unpacked; entry count and sizes checked before it is opened).
- **Fine-tuned head** (``finetune.text_classification``): ``head.safetensors`` + ``head.json``
  (format :data:`FINETUNED_FORMAT`) beside the fine-tuned encoder's own files.
- **Fine-tuned classifier archive** (the app's fine-tuning download): a head archive (format
  :data:`TUNED_FORMAT`) plus ``encoder.safetensors``, the weights fine-tuning changed (float16,
  about 43 MB for the embedded model) to put into its base encoder, which ``config.json`` names
  and fingerprints. The unchanged word-embedding matrix (82% of the model) is not in it.

Everything is safetensors + JSON, never pickle, and written atomically: a reader sees all of a
folder or none of it. This module turns files into ``(config, tensors)`` and back; what they mean
(building a head, matching its encoder) is :mod:`xlmr_demo.classifier`'s.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .errors import UserError
from .limits import Limits
from .readers import check_file, check_zip
from .writers import output_folder, write_dir_atomically, write_file_atomically

HEAD_FILE, CONFIG_FILE, METRICS_FILE = "head.safetensors", "config.json", "metrics.json"
LABEL_ISSUES_FILE = "label_issues.json"
FINETUNED_HEAD_JSON = "head.json"  # beside a fine-tuned encoder: labels and head settings
FORMAT = "xlmr_demo.head/3"  # format 3 added the by_language head; format 2 heads read alike
READABLE_FORMATS = (FORMAT, "xlmr_demo.head/2")
# format 1 tied heads to a fingerprint of the model's config and weight-file edges; since format 2
# it covers every byte, so a format-1 head cannot be matched to its encoder any more
OLD_FORMATS = ("xlmr_demo.head/1",)
FINETUNED_FORMAT = "xlmr_demo.finetuned_head/1"  # head.json files written before it carry no format: read alike
TUNED_FORMAT = "xlmr_demo.tuned/1"  # a head archive with the encoder weights fine-tuning changed
ENCODER_FILE = "encoder.safetensors"
ENCODER_PREFIX = "encoder."  # an archive's encoder weights among its tensors, by name
MAX_CONFIG_BYTES = 16 * 2**20  # a config.json holds labels and a loss history: kilobytes


def is_saved_classifier(folder: Path) -> bool:
    """Whether ``folder`` holds a head folder (its two files)."""
    return (folder / CONFIG_FILE).is_file() and (folder / HEAD_FILE).is_file()


def is_finetuned_head(folder: Path) -> bool:
    """Whether ``folder`` is a fine-tuned encoder with the product's head beside it."""
    return (folder / FINETUNED_HEAD_JSON).is_file() and (folder / HEAD_FILE).is_file()


def _json_bytes(value) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def _tensor_bytes(tensors: dict[str, np.ndarray], dtype=np.float32) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v, dtype=dtype) for k, v in tensors.items()})


def _parse_json(data: bytes, name: str):
    """A saved JSON file's value; anything unreadable (bad UTF-8 or JSON, absurd nesting) is a damaged classifier."""
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise UserError(f"{name} holds a damaged classifier: its settings are not valid JSON.") from exc


def head_files(
    config: dict, tensors: dict[str, np.ndarray], metrics: dict | None = None, label_issues: list | None = None,
    encoder_weights: dict[str, np.ndarray] | None = None,
) -> dict[str, bytes]:  # fmt: skip
    """A head folder's files by name: ``config`` tagged with :data:`FORMAT`, the tensors, metrics and label issues;
    with ``encoder_weights`` (float16), a fine-tuned classifier's (:data:`TUNED_FORMAT`)."""
    version = FORMAT if encoder_weights is None else TUNED_FORMAT
    files = {CONFIG_FILE: _json_bytes({"format": version, **config}), HEAD_FILE: _tensor_bytes(tensors)}
    if encoder_weights is not None:
        files[ENCODER_FILE] = _tensor_bytes(encoder_weights, np.float16)
    if metrics is not None:
        files[METRICS_FILE] = _json_bytes(metrics)
    if label_issues:
        files[LABEL_ISSUES_FILE] = _json_bytes(label_issues)
    return files


def write_folder(files: dict[str, bytes], folder: str | Path, overwrite: bool = False) -> Path:
    """Write a head folder atomically. An existing folder is replaced only with ``overwrite``, and never
    one that is not a saved classifier."""
    folder = output_folder(folder, "The classifier folder", replaceable=is_saved_classifier, overwrite=overwrite)

    def fill(tmp: Path) -> None:
        for name, data in files.items():
            (tmp / name).write_bytes(data)

    return write_dir_atomically(folder, fill, replace=overwrite)


def write_archive(files: dict[str, bytes], path: str | Path) -> Path:
    """Write a head folder's files into one .zip at ``path``, atomically."""

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)

    return write_file_atomically(Path(path), write)


def check_format(config: object, name: str) -> dict:
    """``config`` if it is a head's config of the current format; old formats and anything else refused."""
    version = config.get("format") if isinstance(config, dict) else None
    if version in OLD_FORMATS:
        raise UserError(
            f"{name} was saved by an earlier xlmr_demo that identified models less strictly; train it again."
        )
    if version not in (*READABLE_FORMATS, TUNED_FORMAT):
        raise UserError(f"{name} is not an xlmr_demo classifier (its {CONFIG_FILE} has no format {FORMAT!r}).")
    return config


def read_folder(folder: str | Path) -> tuple[dict, dict[str, np.ndarray], str]:
    """(config, tensors, name) of a head folder; its config's format checked."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; a saved classifier is a folder with {HEAD_FILE} and {CONFIG_FILE}.")
    if not is_saved_classifier(folder):
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:20]) or "nothing"
        raise UserError(f"{folder} is not a saved classifier: expected {HEAD_FILE} and {CONFIG_FILE}, found {found}.")
    if (folder / CONFIG_FILE).stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"{folder.name}/{CONFIG_FILE} is too large to be a classifier's settings.")
    try:
        config = _parse_json((folder / CONFIG_FILE).read_bytes(), folder.name)
        tensors = load_file(str(folder / HEAD_FILE))
        if isinstance(config, dict) and config.get("format") == TUNED_FORMAT:
            tensors |= {ENCODER_PREFIX + k: v for k, v in load_file(str(folder / ENCODER_FILE)).items()}
    except (SafetensorError, OSError, KeyError) as exc:
        raise UserError(f"{folder.name} holds a damaged classifier ({type(exc).__name__}).") from exc
    return check_format(config, folder.name), tensors, folder.name


def read_archive(path: str | Path, bound: Limits) -> tuple[dict, dict[str, np.ndarray], str]:
    """(config, tensors, name) of a head .zip, read in memory: nothing is unpacked to disk.

    The archive's entry count and sizes are checked before it is opened (:func:`xlmr_demo.readers.check_zip`);
    only ``config.json``, ``head.safetensors`` and a fine-tuned classifier's ``encoder.safetensors`` (its
    tensors named with :data:`ENCODER_PREFIX`) are read, by name, so paths inside it never matter.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = check_file(path, bound)
    name = path.name
    with check_zip(path, name, bound, "a classifier .zip from the Train tab") as archive:
        members = {info.filename.removeprefix("./"): info for info in archive.infolist() if not info.is_dir()}
        missing = [f for f in (CONFIG_FILE, HEAD_FILE) if f not in members]
        if missing:
            raise UserError(f"{name} is not a classifier .zip from the Train tab: it has no {' or '.join(missing)}.")
        if members[CONFIG_FILE].file_size > MAX_CONFIG_BYTES:
            raise UserError(f"{name}: its {CONFIG_FILE} is too large to be a classifier's settings.")
        try:
            config = _parse_json(archive.read(members[CONFIG_FILE]), name)
            tensors = load(archive.read(members[HEAD_FILE]))
            if isinstance(config, dict) and config.get("format") == TUNED_FORMAT:
                if ENCODER_FILE not in members:
                    raise UserError(f"{name} is a fine-tuned classifier without its {ENCODER_FILE}.")
                encoder = load(archive.read(members[ENCODER_FILE]))
                tensors |= {ENCODER_PREFIX + k: v for k, v in encoder.items()}
        # safetensors raises KeyError for dtypes numpy lacks (BF16, F8), zipfile RuntimeError for encrypted entries
        except (zipfile.BadZipFile, SafetensorError, OSError, EOFError, ValueError, NotImplementedError, KeyError,
                RuntimeError) as exc:  # fmt: skip
            if isinstance(exc, UserError):
                raise
            raise UserError(f"{name} holds a damaged classifier ({type(exc).__name__}).") from exc
    return check_format(config, name), tensors, name


def write_finetuned_head(folder: Path, about: dict, tensors: dict[str, np.ndarray]) -> None:
    """Write the head beside a fine-tuned encoder in ``folder``: its tensors, then ``about`` (labels, settings)."""
    data = _tensor_bytes(tensors)
    write_file_atomically(folder / HEAD_FILE, lambda tmp: tmp.write_bytes(data))
    text = _json_bytes({"format": FINETUNED_FORMAT, **about})
    write_file_atomically(folder / FINETUNED_HEAD_JSON, lambda tmp: tmp.write_bytes(text))


def read_finetuned_head(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(about, tensors) of the head beside a fine-tuned encoder."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        about = _parse_json((folder / FINETUNED_HEAD_JSON).read_bytes(), folder.name)
        tensors = load_file(str(folder / HEAD_FILE))
    except (OSError, SafetensorError, KeyError) as exc:
        raise UserError(f"{folder.name} holds a damaged fine-tuned classifier ({type(exc).__name__}).") from exc
    if not isinstance(about, dict) or about.get("format", FINETUNED_FORMAT) != FINETUNED_FORMAT:
        raise UserError(f"{folder.name}/{FINETUNED_HEAD_JSON} is not an xlmr_demo fine-tuned head.")
    return about, tensors
