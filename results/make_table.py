"""Prints the README's accuracy table from results/accuracy.json (one row per run, test figures in %).

python results/make_table.py [results/accuracy.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def percent(value) -> str:
    return f"{value * 100:.2f}" if isinstance(value, (int, float)) else "-"


def describe(entry: dict) -> str:
    """A short name of the run's setup, from its command line."""
    command = entry.get("command") or ""
    if isinstance(command, list):
        command = " ".join(command)
    parts = [f"preset {entry.get('preset') or 'paper'}"]
    for flag in (
        "--encoding",
        "--threshold_tuning",
        "--num_train_epochs",
        "--loss",
        "--pooling",
        "--entity_markers",
    ):
        if flag in command:
            value = command.rsplit(flag, 1)[1].split()[0]  # the last occurrence wins, as in argparse
            parts.append(f"{flag.lstrip('-')} {value}")
    for flag in ("--entity_detection", "--encoder_attention_dropout"):
        if f"{flag} " in f"{command} ":  # a switch, or a flag whose value follows
            value = command.rsplit(flag, 1)[1].split()[:1]
            parts.append(" ".join([flag.lstrip("-"), *(v for v in value if not v.startswith("--"))]))
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
