# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""What a run records of itself and publishes: how it was launched, the machine and library versions, paths and
the command line made portable, the summary appended to a results list, and the upload to the Hub.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from globalre_training.options import KNOWN_DATASETS, PACKAGED_ENCODERS


def launcher() -> str:
    """How this process was started, for the recorded command."""
    launched = any(
        k in os.environ for k in ("ACCELERATE_MIXED_PRECISION", "LOCAL_RANK", "ACCELERATE_USE_CPU")
    )
    return "accelerate launch" if launched else "python"


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def versions() -> dict:
    import accelerate
    import datasets
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
    }
    commit = _git("rev-parse", "HEAD")
    if commit is not None:
        info["globalre_commit"] = commit.strip()
        # a run of edited code is not the commit's run: whether tracked files differed from it (None: unknown)
        status = _git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
        info["globalre_uncommitted_changes"] = None if status is None else bool(status.strip())
    return info


def _git(*arguments: str) -> str | None:
    """The output of a git command in the package's checkout, or None without git, outside a checkout, or on any
    failure."""
    try:
        result = subprocess.run(
            ["git", *arguments], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def dataset_info(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(name, Hub dataset id) of the training data: the name the user (or the protocol) gave, and its id when it
    is a dataset the project knows (`KNOWN_DATASETS`); never guessed from file names."""
    return args.dataset_name, KNOWN_DATASETS.get(args.dataset_name or "")


def portable(value: Any) -> Any:
    """What a published file may say of a value of this run: an absolute path (of the training machine) becomes
    its last component; lists, tuples and dicts are walked; anything else stays."""
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")):
        return os.path.basename(os.path.normpath(value))
    if isinstance(value, (list, tuple)):
        return [portable(item) for item in value]
    if isinstance(value, dict):
        return {key: portable(item) for key, item in value.items()}
    return value


def portable_argv(argv: Sequence[str]) -> list[str]:
    """A command line as a published file may show it: paths made `portable` (also in `--flag=value`), a packaged
    encoder's folder given back its package name (so the command can be run again), the Hub token hidden."""

    def value(item: str) -> str:
        for name, (module, _) in PACKAGED_ENCODERS.items():
            if os.path.isabs(item) and module in Path(item).parts:
                return name
        return portable(item)

    shown, hide_next = [], False
    for item in argv:
        if hide_next:
            shown.append("HUB_TOKEN")
            hide_next = False
        elif item == "--hub_token":
            shown.append(item)
            hide_next = True
        elif item.startswith("--hub_token="):
            shown.append("--hub_token=HUB_TOKEN")
        elif item.startswith("--") and "=" in item:
            flag, given = item.split("=", 1)
            shown.append(f"{flag}={value(given)}")
        else:
            shown.append(value(item))
    return shown


def append_results(results_path: str, accuracy_path: str) -> dict:
    """Appends the summary of a run's results.json to a JSON list file (e.g. results/accuracy.json)."""
    with open(results_path, encoding="utf-8") as handle:
        results = json.load(handle)
    keys = (
        "protocol", "preset", "command", "f1", "ign_f1", "precision", "recall", "evaluated_on", "dev", "test", "end_to_end",
        "best_epoch", "training_seconds", "machine", "versions", "output_dir", "finished_at",
    )  # fmt: skip
    entry = {key: results.get(key) for key in keys}
    entries = []
    if os.path.isfile(accuracy_path):
        with open(accuracy_path, encoding="utf-8") as handle:
            text = handle.read()
        entries = json.loads(text) if text.strip() else []  # an empty file: a list to start
        if not isinstance(entries, list):
            raise ValueError(f"{accuracy_path}: expected a JSON list")
    entries.append(entry)
    os.makedirs(os.path.dirname(os.path.abspath(accuracy_path)), exist_ok=True)
    with open(accuracy_path, "w", encoding="utf-8") as handle:
        json.dump(entries, handle, indent=2)
        handle.write("\n")
    return entry


def push_to_hub(args: argparse.Namespace) -> str:
    from huggingface_hub import HfApi

    api = HfApi(token=args.hub_token)
    repo = api.create_repo(args.hub_model_id, private=args.hub_private, exist_ok=True, repo_type="model")
    api.upload_folder(
        repo_id=repo.repo_id,
        folder_path=args.output_dir,
        commit_message="Upload GlobalRE model trained with train.py",
    )
    return f"https://huggingface.co/{repo.repo_id}"
