"""Prints the README's accuracy table from results/accuracy.json (one row per run, test figures in %).

python results/make_table.py [results/accuracy.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def percent(value) -> str:
    return f"{value * 100:.2f}" if isinstance(value, (int, float)) else "-"


# Flags left out of a run's name: where it reads data (the protocol column names the files and slices), where it
# writes, logs or publishes, and what changes only how fast it evaluates; and --encoder, MiniLM-L6 in every row so
# far (the README says so under the table).
BOOKKEEPING = {
    "--protocol",
    "--preset",
    "--data_dir",
    "--train_file",
    "--dev_file",
    "--test_file",
    "--label_dir",
    "--train_docs",
    "--dev_docs",
    "--test_docs",
    "--max_train_docs",
    "--dataset_name",
    "--encoder",
    "--base_model",
    "--output_dir",
    "--append_results_to",
    "--resume_from_checkpoint",
    "--checkpoint_dir",
    "--checkpointing_steps",
    "--checkpoints_total_limit",
    "--keep_checkpoints",
    "--no_progress",
    "--log_every",
    "--report_to",
    "--push_to_hub",
    "--hub_model_id",
    "--hub_private",
    "--hub_token",
    "--license",
    "--eval_docs_per_step",
    "--max_batch_tokens",
    "--no_cache",
}


def describe(entry: dict) -> str:
    """A short name of the run's setup: its preset and every other flag of train.py's command line that shapes the
    training (not those in `BOOKKEEPING`), in the order given (the last occurrence of a flag wins, as in
    argparse; a flag's first value only)."""
    command = entry.get("command") or ""
    words = command if isinstance(command, list) else command.split()
    # only train.py's own flags (not those of `accelerate launch` before it)
    starts = [index for index, word in enumerate(words) if Path(word).name == "train.py"]
    words = words[starts[0] + 1 :] if starts else words
    values: dict[str, str | None] = {}
    for index, word in enumerate(words):
        if word.startswith("--"):
            flag, _, value = word.partition("=")
            following = words[index + 1] if index + 1 < len(words) else None
            if not value and following is not None and not following.startswith("--"):
                value = following
            values[flag] = value or None
    parts = [f"preset {entry.get('preset') or 'paper'}"]
    for flag, value in values.items():
        if flag not in BOOKKEEPING:
            parts.append(" ".join([flag.lstrip("-"), *([value] if value else [])]))
    return ", ".join(parts)


def main(path: str = "results/accuracy.json") -> None:
    entries = json.loads(Path(path).read_text())
    print("| run | protocol | F1 | Ign F1 | P | R | training s | machine |")
    print("|---|---|---|---|---|---|---|---|")
    notes: list[str] = []  # an entry's "note" (e.g. how a resumed run's time was counted) is printed below
    for entry in entries:
        machine = entry.get("machine") or {}
        if isinstance(machine, dict):
            machine = machine.get("gpu") or machine.get("cpu") or machine.get("description") or ""
        seconds = entry.get("training_seconds")
        seconds = f"{seconds:.0f}" if isinstance(seconds, (int, float)) else "-"
        figures = " | ".join(percent(entry.get(key)) for key in ("f1", "ign_f1", "precision", "recall"))
        marker = f" [{len(notes) + 1}]" if entry.get("note") else ""
        if entry.get("note"):
            notes.append(entry["note"])
        print(f"| {describe(entry)}{marker} | {entry.get('protocol')} | {figures} | {seconds} | {machine} |")
    if notes:
        print()
        for number, note in enumerate(notes, 1):
            print(f"[{number}] {note}")


if __name__ == "__main__":
    main(*sys.argv[1:])
