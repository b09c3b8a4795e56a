"""Brings a GPU run's results home: unpacks the PART.tar.gz files that `results/gpu/session.sh` left in its $OUT
folder (copied back from the GPU machine), appends every training run's results.json to
results/accuracy.json (once: a run already there is skipped), and prints the benchmark tables for
bench/RESULTS.md.

    python results/gpu/collect.py FILES_AT [--accuracy results/accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files_at", help="folder holding the PART.tar.gz files")
    parser.add_argument("--accuracy", default=str(REPO / "results" / "accuracy.json"))
    parser.add_argument("--root", default=str(REPO), help="where the archives' outputs/gpu-PART/ folders go")
    args = parser.parse_args(argv)
    root = Path(args.root)

    from globalre_training.report import append_results

    archives = sorted(Path(args.files_at).rglob("*.tar.gz"))
    if not archives:
        raise SystemExit(f"{args.files_at}: no PART.tar.gz files")
    unpacked: list[Path] = []  # only these are collected: older or dry-run outputs under outputs/ stay out
    for archive in archives:
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")  # members are outputs/gpu-PART/...
            unpacked += [root / name for name in tar.getnames()]
        print(f"unpacked {archive.name}")
    accuracy = Path(args.accuracy)
    known = {
        (entry.get("output_dir"), entry.get("finished_at"))
        for entry in (json.loads(accuracy.read_text()) if accuracy.exists() else [])
    }
    for results in sorted(path for path in unpacked if path.name == "results.json"):
        summary = json.loads(results.read_text())
        if (summary.get("output_dir"), summary.get("finished_at")) in known:
            print(f"already in {accuracy.name}: {results.parent.name}")
            continue
        entry = append_results(str(results), str(accuracy))
        print(f"appended {results.parent.name}: F1 {entry['f1']}, Ign F1 {entry['ign_f1']}")
    for log in sorted(path for path in unpacked if path.suffix == ".log" and "bench" in path.parent.name):
        print(f"\n## {log.parent.name}/{log.name}\n{log.read_text()}")


if __name__ == "__main__":
    main()
