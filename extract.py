# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Extract the knowledge graph of every document of a corpus with a GlobalRE model, one JSON line per document.

    python extract.py --model DIR --input corpus.jsonl --output graph.jsonl

Input: a JSON Lines file whose lines are `{"id", "text"}` (plain text: the entities are detected), text-form
documents (`{"id", "text", "entities"}`) or DocRED documents (`sents`, `vertexSet`), or a folder of `.txt` files
(read in the order of their names; a document's id is its file name). A line's id is its `id`, else its `title`,
else its line number.

Output: one line per input document, in input order: `{"id", "entities", "relations"}` (the pipeline's graph,
`graph_globalre.document_graph`), or `{"id", "error"}` for a document that could not be read or extracted; the run
goes on and ends with a summary of the errors. Documents are read lazily and each line is written and flushed when
its document is done, so memory stays flat however large the corpus.

Resume (the default; `--no_resume` starts anew): run the same command again on the same output and it continues
where it stopped: documents already written are skipped (their ids are checked against the input's), and a
half-written last line is cut off and its document done again.

Several processes or machines (`accelerate launch extract.py ...`): process r of k takes the documents whose index
(0-based, among the input's documents) is r modulo k and writes them to its part file `OUTPUT.part-r-of-k` beside
the output; when all are done, the main process appends the parts to the output in input order and deletes them.
A resumed run continues each part (with the same number of processes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("extract")

PART_SUFFIX = ".part-{rank}-of-{world_size}"
# each part line carries its document's index in the input, so a merge that stopped half-way can be finished
PART_INDEX_KEY = "index"


class ResumeError(RuntimeError):
    """An existing output (or part file) that does not continue this input: another input, or corrupted."""


@dataclass
class CorpusDocument:
    """One input document: its index among the input's documents, where it comes from (a line number or a file
    name, for messages), its id, and the document itself or why it cannot be read."""

    index: int
    source: str
    id: Any
    document: dict | None = None
    error: str | None = None


@dataclass
class Summary:
    """What one process did: documents extracted now, skipped (already written), and the errors `(id, reason)`."""

    extracted: int = 0
    skipped: int = 0
    errors: list[tuple[Any, str]] = field(default_factory=list)

    def describe(self, shown: int = 10) -> str:
        text = (
            f"{self.extracted} document(s) extracted, {self.skipped} already written (skipped), "
            f"{len(self.errors)} error(s)"
        )
        for identifier, reason in self.errors[:shown]:
            text += f"\n  id {identifier!r}: {reason}"
        if len(self.errors) > shown:
            text += f"\n  ... and {len(self.errors) - shown} more (lines with 'error' in the output)"
        return text


# ----------------------------------------------------------------------------------------------------------------
# Reading the corpus lazily
# ----------------------------------------------------------------------------------------------------------------


def _line_document(index: int, line_number: int, line: str) -> CorpusDocument:
    source = f"line {line_number}"
    try:
        document = json.loads(line)
    except json.JSONDecodeError as error:
        return CorpusDocument(index, source, line_number, error=f"{source} is not JSON ({error}).")
    if not isinstance(document, dict):
        return CorpusDocument(
            index,
            source,
            line_number,
            error=f"{source} is a JSON {type(document).__name__}; expected an object.",
        )
    identifier = document.get("id", document.get("title"))
    if identifier is None or identifier == "":
        identifier = line_number
    if not isinstance(document.get("text"), str) and not {"sents", "vertexSet"} <= document.keys():
        return CorpusDocument(
            index,
            source,
            identifier,
            error=f"{source} has neither 'text' (a string) nor DocRED's 'sents' and 'vertexSet'; got keys "
            f"{sorted(document)}.",
        )
    return CorpusDocument(index, source, identifier, document=document)


def read_corpus(path: str | Path, rank: int = 0, world_size: int = 1) -> Iterator[CorpusDocument]:
    """The documents of a JSON Lines file (blank lines are no document) or of a folder's `.txt` files, read one at a
    time; only those of process `rank` of `world_size` (index modulo `world_size`), the others not even parsed. A
    line or file that cannot be read is a `CorpusDocument` with its `error`, in its place."""
    path = Path(path)
    if path.is_dir():
        for index, file in enumerate(_text_files(path)):
            if index % world_size != rank:
                continue
            try:
                text = file.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError) as error:
                yield CorpusDocument(
                    index, file.name, file.name, error=f"{file.name}: cannot be read as UTF-8 text ({error})."
                )
                continue
            yield CorpusDocument(index, file.name, file.name, document={"id": file.name, "text": text})
        return
    with open(path, encoding="utf-8", errors="replace") as lines:
        index = 0
        for line_number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if index % world_size == rank:
                yield _line_document(index, line_number, line)
            index += 1


def _text_files(folder: Path) -> list[Path]:
    return sorted(file for file in folder.iterdir() if file.suffix == ".txt" and file.is_file())


def count_documents(path: str | Path) -> int:
    """How many documents `read_corpus` gives, counted without parsing (for the progress bar)."""
    path = Path(path)
    if path.is_dir():
        return len(_text_files(path))
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())


# ----------------------------------------------------------------------------------------------------------------
# The output and the part files
# ----------------------------------------------------------------------------------------------------------------


def part_path(output: str | Path, rank: int, world_size: int) -> Path:
    output = Path(output)
    return output.with_name(output.name + PART_SUFFIX.format(rank=rank, world_size=world_size))


def _part_files(output: Path) -> list[Path]:
    return sorted(output.parent.glob(output.name + ".part-*-of-*"))


def repair_last_line(path: Path) -> int:
    """Cuts off a half-written last line (no line end, or not JSON: the run was killed while writing it) and
    returns the number of complete lines. A line before the last that is not JSON is a `ResumeError`."""
    if not path.exists():
        return 0
    complete = 0
    keep = 0  # bytes up to the end of the last complete line
    with open(path, "rb") as lines:
        offset = 0
        for line in lines:
            end = offset + len(line)
            try:
                whole = line.endswith(b"\n") and isinstance(json.loads(line), dict)
            except ValueError:
                whole = False
            if not whole:
                if lines.read(1):
                    raise ResumeError(
                        f"{path}: line {complete + 1} is not a JSON object, and lines follow it; this is not an "
                        "output of extract.py. Give another --output, or --no_resume to overwrite it."
                    )
                break
            complete += 1
            keep = end
            offset = end
    if keep < path.stat().st_size:
        logger.warning("%s: cut off a half-written last line; its document is extracted again", path)
        with open(path, "r+b") as file:
            file.truncate(keep)
    return complete


def _written_lines(path: Path) -> Iterator[dict]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def prepare_output(output: str | Path, world_size: int = 1, resume: bool = True) -> int:
    """Readies the output before any process writes (run by the main process alone): without `resume`, removes the
    output and every part file; with it, cuts off the output's half-written last line and refuses part files of a
    run with another number of processes. Returns the number of complete output lines.

    Raises:
        ResumeError: part files of another number of processes, or an output that is not extract.py's.
    """
    output = Path(output)
    if not resume:
        for path in [output, *_part_files(output)]:
            path.unlink(missing_ok=True)
        return 0
    expected = (
        {part_path(output, rank, world_size) for rank in range(world_size)} if world_size > 1 else set()
    )
    stale = [path.name for path in _part_files(output) if path not in expected]
    if stale:
        raise ResumeError(
            f"{output}: found part files of an unfinished run with another number of processes ({', '.join(stale)}). "
            "Rerun with that number of processes to finish and merge them, or delete them (or pass --no_resume) to "
            "extract their documents anew."
        )
    return repair_last_line(output)


def _check_same_document(written: dict, document: CorpusDocument, path: Path) -> None:
    if written.get("id") != document.id:
        raise ResumeError(
            f"{path} holds id {written.get('id')!r} where the input's document #{document.index} ({document.source}) "
            f"has id {document.id!r}: the output was written from another input. Give another --output, or "
            "--no_resume to overwrite it."
        )


# ----------------------------------------------------------------------------------------------------------------
# Extraction
# ----------------------------------------------------------------------------------------------------------------


def extract_line(document: CorpusDocument, extract_one: Callable[[dict], dict]) -> dict:
    """The output line of one document: `{"id", **graph}`, or `{"id", "error"}` when it cannot be extracted."""
    if document.error is not None:
        return {"id": document.id, "error": document.error}
    try:
        graph = extract_one(document.document)
    except MemoryError:
        raise  # the machine's state, not the document's: an error line would never be retried on resume
    except Exception as error:  # a bad document must not end a corpus run; its reason goes in its line
        if type(error).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without importing torch
            raise
        return {"id": document.id, "error": f"{type(error).__name__}: {error}"}
    return {"id": document.id, **graph}


def extract(
    documents: Iterable[CorpusDocument],
    output: str | Path,
    extract_one: Callable[[dict], dict],
    rank: int = 0,
    world_size: int = 1,
    total: int | None = None,
    progress: bool = True,
) -> Summary:
    """Extracts process `rank`'s documents (index modulo `world_size`) and appends their lines to the output (one
    process) or to the process's part file, continuing what is already there. Call `prepare_output` first (main
    process) and, with several processes, `merge_parts` when all are done.

    Args:
        documents: the input's documents in order (`read_corpus`); those of other processes are passed over.
        extract_one: a document (a dict) to its graph (`pipeline(..., return_graph=True)`).
        total: the input's number of documents, for the progress bar.

    Raises:
        ResumeError: the output (or part file) was written from another input.
    """
    output = Path(output)
    target = output if world_size == 1 else part_path(output, rank, world_size)
    repair_last_line(target)
    # lines already written: for one process the output, in input order; for several, the documents of this
    # process in the output (a finished merge) and then in its part file
    in_output = (
        (line for number, line in enumerate(_written_lines(output)) if number % world_size == rank)
        if world_size > 1
        else iter(())
    )
    written = _written_lines(target)
    next_written = next(written, None)
    # `prepare_output` (main process) has already cut off the output's half-written line
    output_lines = sum(1 for _ in _written_lines(output)) if world_size > 1 else 0
    summary = Summary()
    mine = None if total is None else len(range(rank, total, world_size))
    from tqdm.auto import tqdm

    bar = tqdm(
        total=mine, unit="doc", desc=f"extracting (process {rank} of {world_size})", disable=not progress
    )
    with open(target, "a", encoding="utf-8", newline="\n") as sink:
        for document in documents:
            if document.index % world_size != rank:
                continue
            if document.index < output_lines:
                _check_same_document(next(in_output), document, output)
                summary.skipped += 1
                bar.update()
                continue
            if world_size > 1:
                while next_written is not None and next_written[PART_INDEX_KEY] < document.index:
                    next_written = next(written, None)  # merged into the output by an earlier run
            if next_written is not None and (
                world_size == 1 or next_written[PART_INDEX_KEY] == document.index
            ):
                _check_same_document(next_written, document, target)
                next_written = next(written, None)
                summary.skipped += 1
                bar.update()
                continue
            line = extract_line(document, extract_one)
            if "error" in line:
                summary.errors.append((document.id, line["error"]))
                logger.warning("id %r (%s): %s", document.id, document.source, line["error"])
            if world_size > 1:
                line = {PART_INDEX_KEY: document.index, **line}
            sink.write(json.dumps(line, ensure_ascii=False) + "\n")
            sink.flush()
            summary.extracted += 1
            bar.update()
            bar.set_postfix(errors=len(summary.errors), refresh=False)
    bar.close()
    if world_size == 1 and next_written is not None:
        raise ResumeError(
            f"{target} holds more lines than the input has documents (id {next_written.get('id')!r} and on): it was "
            "written from another input. Give another --output, or --no_resume to overwrite it."
        )
    return summary


def merge_parts(output: str | Path, world_size: int) -> int:
    """Appends the part files of `world_size` processes to the output in input order, each document once, and
    deletes them (main process, after every process finished `extract`). Lines of documents the output already
    holds (a merge that stopped half-way) are skipped. Returns the number of lines appended.

    Raises:
        ResumeError: a part file lacks a document that a later one has (a process did not finish).
    """
    output = Path(output)
    done = repair_last_line(output)
    parts = [part_path(output, rank, world_size) for rank in range(world_size)]
    for path in parts:
        repair_last_line(path)  # a process killed while writing: its document is missing, not half there
    readers = [_written_lines(path) for path in parts]
    pending: list[dict | None] = [next(reader, None) for reader in readers]
    appended = 0
    index = done
    with open(output, "a", encoding="utf-8", newline="\n") as sink:
        while True:
            rank = index % world_size
            while pending[rank] is not None and pending[rank][PART_INDEX_KEY] < index:
                pending[rank] = next(readers[rank], None)
            line = pending[rank]
            if line is None or line[PART_INDEX_KEY] != index:
                left = [r for r, p in enumerate(pending) if p is not None and p[PART_INDEX_KEY] > index]
                if left:
                    raise ResumeError(
                        f"{parts[rank]} lacks document #{index} while {parts[left[0]]} goes on: process {rank} did "
                        "not finish. Run the same command again to complete it."
                    )
                break
            line = dict(line)
            del line[PART_INDEX_KEY]
            sink.write(json.dumps(line, ensure_ascii=False) + "\n")
            sink.flush()
            pending[rank] = next(readers[rank], None)
            appended += 1
            index += 1
    for reader in readers:
        reader.close()
    for path in parts:
        path.unlink(missing_ok=True)
    return appended


# ----------------------------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a saved GlobalRE model: folder or Hub id")
    parser.add_argument("--input", required=True, help="a JSON Lines file, or a folder of .txt files")
    parser.add_argument("--output", required=True, help="the JSON Lines file of graphs")
    parser.add_argument(
        "--no_resume",
        dest="resume",
        action="store_false",
        help="overwrite an existing output and its part files instead of continuing them",
    )
    parser.add_argument(
        "--entity_detector",
        default=None,
        help="a token-classification model (folder or Hub id) that finds the entities of plain text instead of the "
        "model's own detector",
    )
    parser.add_argument(
        "--entity_type_map",
        default=None,
        help="the entity detector's labels to the model's entity types: JSON ('{\"PER\": \"PER\"}') or a JSON file",
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, ... (default: the process's device)"
    )
    parser.add_argument("--max_batch_tokens", type=int, default=None, help="padded tokens per model call")
    return parser.parse_args(argv)


def read_type_map(value: str | None) -> dict | None:
    """`--entity_type_map`: JSON text or the path of a JSON file, an object of label to type."""
    if value is None:
        return None
    text = Path(value).read_text(encoding="utf-8") if os.path.isfile(value) else value
    try:
        type_map = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--entity_type_map: not JSON nor a JSON file ({error}): {value!r}") from error
    if not isinstance(type_map, dict) or not all(isinstance(v, str) for v in type_map.values()):
        raise SystemExit(f"--entity_type_map: expected a JSON object of label to entity type; got {value!r}")
    return type_map


def _on_cpu(device: str | None) -> bool:
    """Whether the processes run on CPUs: asked for (`--device cpu`, `ACCELERATE_USE_CPU`), or no accelerator.
    accelerate's `PartialState` sets up CPU processes (gloo) only when told so."""
    import torch

    asked = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return asked or (device or "").startswith("cpu") or not torch.accelerator.is_available()


def main(argv: Sequence[str] | None = None) -> Summary:
    from accelerate import PartialState
    from transformers import pipeline

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if not os.path.exists(args.input):
        raise SystemExit(f"--input {args.input}: no such file or folder")
    type_map = read_type_map(args.entity_type_map)
    state = PartialState(cpu=_on_cpu(args.device))
    rank, world_size = state.process_index, state.num_processes
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != world_size:  # each process would do every document and write the same output
        raise SystemExit(
            f"launched as {launched} processes, but accelerate set up {world_size}; launch with `accelerate launch "
            "--num_processes N extract.py ...` (on CPUs: ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu ...)."
        )
    if state.is_main_process:
        prepare_output(args.output, world_size, resume=args.resume)
    state.wait_for_everyone()
    device = args.device if args.device is not None else str(state.device)
    extractor = pipeline("relation-extraction", model=args.model, trust_remote_code=True, device=device)
    options: dict[str, Any] = {"return_graph": True, "max_batch_tokens": args.max_batch_tokens}
    if args.entity_detector is not None:
        options["entity_detector"] = pipeline(
            "token-classification", model=args.entity_detector, aggregation_strategy="simple", device=device
        )
        options["entity_type_map"] = type_map

    summary = extract(
        read_corpus(args.input, rank, world_size),
        args.output,
        lambda document: extractor(document, **options),
        rank=rank,
        world_size=world_size,
        total=count_documents(args.input),
        progress=state.is_local_main_process,
    )
    logger.info("process %d of %d: %s", rank, world_size, summary.describe())
    state.wait_for_everyone()
    if world_size > 1 and state.is_main_process:
        merge_parts(args.output, world_size)
    if state.is_main_process:
        logger.info("wrote %s", args.output)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
