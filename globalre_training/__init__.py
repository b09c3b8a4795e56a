# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The pieces of a GlobalRE training run; `train.py` at the top level is the run itself, and reads top to bottom.

Modules:
    options: the declarations of the run (training options, presets, protocols, known datasets, packaged encoders)
        and the model card's training table derived from them.
    arguments: the command line (`parse_args`, `resolve_args`) and the protocol description.
    data: documents of a split, their candidate pairs and labels, the pairs of an epoch, multi-hot labels.
    model: the model and processor a run trains, the cached-vector head, the optimizer's parameter groups.
    thresholds: decision thresholds tuned on dev logits.
    evaluation: documents scored across processes, the official scores of a split, degenerate predictions.
    detection: `--entity_detection`: the mention types, the training documents as raw text and which of them
        each micro-batch adds to the loss, the detector's dev figures, the coreference choice, the end-to-end
        evaluation (also used by `evaluate_model.py --end_to_end`).
    checkpoints: the checkpoint folder's claim, listing, saving and the check of a resumed run.
    report: what a run records of itself (machine, versions, portable paths and command line), the results
        list file and the push to the Hub.

Errors: `TrainingError` is a run that cannot go on (train.py prints it as one `train.py: error: ...` line and
exits with status 2, as argparse does); `reading_input` turns the errors of reading and encoding an input file
into one; `RunInterrupted` is an interrupted run, whose message says how to resume it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class TrainingError(RuntimeError):
    """A run that cannot go on; the message says why and what to do."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run; the message says where the last checkpoint is and the command that resumes
    the run. A `KeyboardInterrupt`, so that code calling `train.main` still sees an interruption."""


@contextlib.contextmanager
def reading_input(option: str, path: str | None, label_set_note: str = "") -> Iterator[None]:
    """Turns what reading or encoding the input `--option PATH` raises for bad content (`ValueError`s such as
    `docred_data.DocredFormatError`, `documents_globalre.DocumentError` and JSON errors; `OSError`s such as a
    missing or unreadable file) into a `TrainingError` that names the option and the file before the message
    (which names the document and the item). `label_set_note` (where the label set comes from) is added to an
    error about the label set, such as a relation outside it."""
    try:
        yield
    except (ValueError, OSError) as error:
        note = label_set_note if "label set" in str(error) else ""
        raise TrainingError(input_error_message(option, path, error) + note) from error


def input_error_message(option: str, path: str | None, error: BaseException) -> str:
    """`--option PATH: what is wrong`, without repeating the path when the message starts with it."""
    if isinstance(error, OSError) and error.strerror:
        filename = error.filename
        same = filename is None or path is None or os.path.abspath(str(filename)) == os.path.abspath(path)
        message = error.strerror if same else f"{filename}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
    if path is None:
        return f"{option}: {message}"
    if message.startswith(f"{path}: "):
        message = message[len(path) + 2 :]
    return f"{option} {path}: {message}"
