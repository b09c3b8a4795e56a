# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The corpus command on raw text: documents per second, the share of time per stage, and peak memory against the
corpus size.

    python bench/corpus.py --model outputs/quickstart/model --docs 500
    python bench/corpus.py --model DIR --docs 50 --memory_repeats 10   # peak memory, 50 documents and 10x that

Each Re-DocRED test document becomes a plain-text line `{"id", "text"}` (`documents_globalre.docred_to_text`:
its words joined by spaces, no entities given), so the model finds the entities itself.

1. `extract.py` runs over the corpus in a child process, as a user runs it: wall seconds, documents per second
   after start-up (a run on one document gives the start-up: interpreter, imports, model loading), and the
   child's peak resident memory (`ru_maxrss`).
2. With `--memory_repeats N`, the same corpus repeated N times (ids made unique) runs again in a child process:
   its peak memory beside the first run's shows whether memory grows with the corpus.
3. In this process, the same pipeline call as extract.py makes (`return_graph=True`) on every document, with each
   stage timed: entity detection (tagging and grouping), encoding the text-form document (words, sentences,
   candidate pairs, pair sequences), scoring the pairs, post-processing into the graph.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from documents_globalre import docred_to_text  # noqa: E402


def write_corpus(documents: list[dict], path: Path, repeats: int = 1) -> int:
    """One `{"id", "text"}` line per document (and per repeat); returns the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for repeat in range(repeats):
            for index, document in enumerate(documents):
                text, _ = docred_to_text(document, index)
                identifier = f"{index}:{document.get('title', '')}" + (f"#{repeat}" if repeats > 1 else "")
                handle.write(json.dumps({"id": identifier, "text": text}, ensure_ascii=False) + "\n")
                count += 1
    return count


def run_child(command: list[str]) -> tuple[float, int]:
    """Runs `command`; returns its wall seconds and its peak resident memory in MiB (`ru_maxrss` of that child
    alone, read with `os.wait4`)."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            log.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{log.read()[-3000:]}")
    return seconds, int(usage.ru_maxrss / 1024)


def extract_command(model: str, corpus: Path, output: Path) -> list[str]:
    return [sys.executable, "extract.py", "--model", model, "--input", str(corpus), "--output", str(output),
            "--no_resume"]  # fmt: skip


def stage_times(model: str, corpus: Path) -> tuple[dict[str, float], int, float]:
    """Seconds per stage of the pipeline's calls on every line of `corpus`, the documents, and the total."""
    import torch
    from transformers import pipeline

    torch.manual_seed(0)
    extractor = pipeline("relation-extraction", model=model, trust_remote_code=True)
    module = sys.modules[type(extractor).__module__]
    seconds: dict[str, float] = defaultdict(float)

    def timed(stage: str, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start

        return wrapper

    extractor._detect_entities = timed("entity detection", extractor._detect_entities)
    extractor._encode = timed("encoding (words, pairs, sequences)", extractor._encode)
    module.score_sequences = timed("relation scoring", module.score_sequences)
    extractor.postprocess = timed("post-processing (graph)", extractor.postprocess)
    lines = corpus.read_text(encoding="utf-8").splitlines()
    start = time.perf_counter()
    for line in lines:
        extractor(json.loads(line), return_graph=True)
    return dict(seconds), len(lines), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="A saved GlobalRE model with an entity detector.")
    parser.add_argument(
        "--data", default=str(REPO.parent / "shared" / "data" / "redocred" / "test_revised.json")
    )
    parser.add_argument("--docs", type=int, default=500, help="First N documents of --data.")
    parser.add_argument("--memory_repeats", type=int, default=0, help="Also run the corpus repeated N times.")
    parser.add_argument("--skip_stages", action="store_true", help="Only the extract.py runs.")
    parser.add_argument(
        "--stage_docs",
        type=int,
        default=None,
        help="Time the stages on the first N documents (default: all).",
    )
    parser.add_argument("--json", default=None, help="Write the figures here too.")
    args = parser.parse_args()

    import torch

    documents = json.loads(Path(args.data).read_text(encoding="utf-8"))[: args.docs]
    figures: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}; torch {torch.__version__}; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "documents": len(documents),
    }
    print(figures["machine"])
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        corpus, empty = folder / "corpus.jsonl", folder / "empty.jsonl"
        write_corpus(documents, corpus)
        write_corpus(documents[:1], empty)
        # the fixed cost (interpreter, imports, model loading, one document) apart from the per-document cost
        base_seconds, base_mib = run_child(extract_command(args.model, empty, folder / "empty-out.jsonl"))
        seconds, mib = run_child(extract_command(args.model, corpus, folder / "out.jsonl"))
        lines = (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()
        errors = sum("error" in json.loads(line) for line in lines)
        rate = (len(documents) - 1) / max(seconds - base_seconds, 1e-9)
        figures["extract"] = {
            "command": "python extract.py --model MODEL --input corpus.jsonl --output graph.jsonl",
            "seconds": round(seconds, 2),
            "seconds_one_document": round(base_seconds, 2),
            "documents_per_second": round(rate, 3),
            "peak_mib": mib,
            "peak_mib_one_document": base_mib,
            "error_lines": errors,
            "entities_found": sum(len(json.loads(line).get("entities", [])) for line in lines),
            "relations_found": sum(len(json.loads(line).get("relations", [])) for line in lines),
        }
        print(
            f"extract.py: {len(documents)} documents in {seconds:.1f} s ({base_seconds:.1f} s for one: loading "
            f"and start-up), {rate:.2f} documents/s after start-up; peak memory {mib} MiB ({base_mib} MiB for "
            f"one document); {errors} error lines"
        )
        if args.memory_repeats > 1:
            big = folder / "big.jsonl"
            count = write_corpus(documents, big, args.memory_repeats)
            big_seconds, big_mib = run_child(extract_command(args.model, big, folder / "big-out.jsonl"))
            figures["memory"] = {"documents": count, "seconds": round(big_seconds, 2), "peak_mib": big_mib}
            print(
                f"extract.py on {count} documents ({args.memory_repeats}x): {big_seconds:.1f} s, peak memory "
                f"{big_mib} MiB (against {mib} MiB for {len(documents)})"
            )
        if not args.skip_stages:
            staged = corpus
            if args.stage_docs is not None:
                staged = folder / "staged.jsonl"
                write_corpus(documents[: args.stage_docs], staged)
            stages, count, total = stage_times(args.model, staged)
            figures["stages"] = {name: round(value, 2) for name, value in stages.items()}
            figures["stages_total_seconds"] = round(total, 2)
            print(
                f"pipeline calls in one process: {count} documents in {total:.1f} s ({count / total:.2f} /s)"
            )
            for name, value in sorted(stages.items(), key=lambda item: -item[1]):
                print(f"  {name:40s} {value:8.1f} s  {100 * value / total:5.1f} %")
            rest = total - sum(stages.values())
            print(f"  {'other (pipeline plumbing)':40s} {rest:8.1f} s  {100 * rest / total:5.1f} %")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
