"""train.py on two CPU processes (gloo), launched as users launch it: two real ranks train one model, evaluation is
sharded over them and gathered with `gather_for_metrics` without duplicates, and the scores equal a
single-process evaluation of the saved model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from tests.helpers import DOCRED_META, REPO
from tests.test_train import TINY_BLOCKS, save_tiny_encoder, synthetic_documents


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_two_ranks(train_args: list[str]) -> subprocess.CompletedProcess:
    """`train.py train_args` on two CPU ranks (gloo) under accelerate's launcher; fails the test when it fails."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--main_process_port", str(free_port()), "train.py", *train_args,
    ]  # fmt: skip
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    return result


def write_splits(directory, **counts: int) -> dict:
    """Synthetic DocRED files `{split: path}`, `counts[split]` documents each."""
    files = {}
    for split, n in counts.items():
        files[split] = directory / f"{split}.json"
        files[split].write_text(json.dumps(synthetic_documents(n, split)))
    return files


def test_two_cpu_ranks_train_and_gather_metrics_without_duplicates(tmp_path):
    encoder = save_tiny_encoder(tmp_path / "encoder")
    files = write_splits(tmp_path, train=8, dev=3, test=3)  # 3 documents on 2 ranks: one padding duplicate
    output_dir = tmp_path / "model"
    result = launch_two_ranks([
        "--preset", "best", "--encoder", str(encoder), "--num_train_epochs", "2",
        "--per_device_train_batch_size", "4", "--max_seq_length", "64",
        "--decision_rule", "threshold", "--threshold_tuning", "global",
        "--train_file", str(files["train"]), "--dev_file", str(files["dev"]), "--test_file", str(files["test"]),
        "--label_dir", str(DOCRED_META), "--eval_docs_per_step", "1", "--checkpointing_steps", "epoch",
        "--output_dir", str(output_dir), "--no_progress",
    ])  # fmt: skip

    results = json.loads((output_dir / "results.json").read_text())
    assert results["num_processes"] == 2 and results["ranks"] == [0, 1]  # really two ranks
    assert "Num processes: 2" in result.stderr + result.stdout
    # Each rank scored 2 of the 3 documents (rank 1 a padding duplicate of document 0), and the gathered
    # results hold each document once.
    assert results["eval_docs_per_rank"]["dev"] == [2, 2]
    assert results["eval_docs_per_rank"]["test"] == [2, 2]
    assert results["dev"]["n_documents"] == 3 and results["test"]["n_documents"] == 3
    predictions = json.loads((output_dir / "eval" / "test_predictions.json").read_text())
    keys = [(p["title"], p["h_idx"], p["t_idx"], p["r"]) for p in predictions]
    assert len(keys) == len(set(keys)) == results["test"]["n_predictions"] > 0

    # The gathered scores are those of a single-process evaluation of the saved model.
    from docred_metric import score_docred
    from evaluate_model import to_submission
    from inference_globalre import load_globalre, predict_documents

    model, processor = load_globalre(str(output_dir), device="cpu")
    gold = json.loads(files["test"].read_text())
    triples = predict_documents(model, processor, gold)
    scores = score_docred(to_submission(gold, triples), gold, json.loads(files["train"].read_text()))
    for key in ("f1", "ign_f1", "precision", "recall", "n_pred"):
        assert scores[key] == results["test"][key], key


def test_two_cpu_ranks_train_the_entity_detector_with_the_relations(tmp_path):
    """--entity_detection under a two-process launch trains and saves the detector: its loss is computed in the
    model's forward (`entity_detection_inputs`), which distributed data parallel wraps, and batches without
    detection documents are allowed (`find_unused_parameters`)."""
    encoder = save_tiny_encoder(tmp_path / "encoder")
    files = write_splits(tmp_path, train=6, dev=2)
    output_dir = tmp_path / "model"
    launch_two_ranks([
        "--preset", "packed", *TINY_BLOCKS, "--encoder", str(encoder), "--num_train_epochs", "2", "--entity_detection",
        "--entity_detection_passes", "2", "--per_device_train_batch_size", "4", "--max_seq_length", "64",
        "--train_file", str(files["train"]), "--dev_file", str(files["dev"]), "--label_dir", str(DOCRED_META),
        "--output_dir", str(output_dir), "--no_progress",
    ])  # fmt: skip
    results = json.loads((output_dir / "results.json").read_text())
    assert results["num_processes"] == 2 and results["ranks"] == [0, 1]
    assert [record["epoch"] for record in results["history"]] == [1, 2]
    assert all("dev_detection" in record for record in results["history"])
    assert results["end_to_end"]["entity_types"] and "dev" in results["end_to_end"]
    config = json.loads((output_dir / "config.json").read_text())
    assert config["entity_types"] == results["end_to_end"]["entity_types"]
