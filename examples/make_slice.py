"""Writes examples/data/redocred-slice/ from the full Re-DocRED files: the quickstart's data and the tests' fixtures.

The slice follows the protocol "redocred-dev400-val100-test" in miniature: training documents from the head of
`dev_revised.json` (the protocol trains on dev[0:400]), validation documents from its tail (the protocol chooses
on dev[400:500]) and held-out documents from the head of `test_revised.json`. Documents are copied unchanged
(only re-serialized as compact JSON); the relation names and ids are DocRED's meta files.

    python examples/make_slice.py --data_dir ../shared/data      # the committed slice: --train 48 --dev 8 --test 12
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "redocred-slice"


def dump(documents: list[dict], path: Path) -> None:
    path.write_text(json.dumps(documents, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data_dir", required=True, help="Folder holding redocred/ and docred/ (../shared/data)."
    )
    parser.add_argument("--train", type=int, default=48, help="Documents dev_revised[0:N] for training.")
    parser.add_argument("--dev", type=int, default=8, help="Documents dev_revised[400:400+N] for validation.")
    parser.add_argument("--test", type=int, default=12, help="Documents test_revised[0:N], held out.")
    args = parser.parse_args()

    data = Path(args.data_dir)
    dev = json.loads((data / "redocred" / "dev_revised.json").read_text(encoding="utf-8"))
    test = json.loads((data / "redocred" / "test_revised.json").read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    dump(dev[: args.train], OUT / "train.json")
    dump(dev[400 : 400 + args.dev], OUT / "dev.json")
    dump(test[: args.test], OUT / "test.json")
    for name in ("rel_info.json", "rel2id.json", "ner2id.json"):
        shutil.copyfile(data / "docred" / name, OUT / name)
    shutil.copyfile(data / "redocred" / "LICENSE", OUT / "LICENSE")
    for path in sorted(OUT.iterdir()):
        print(f"{path.name:<14} {path.stat().st_size:>8} bytes")


if __name__ == "__main__":
    main()
