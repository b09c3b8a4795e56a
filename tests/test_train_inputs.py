# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""train.py's command line on mistaken inputs and interrupted runs: every mistake ends with one
`train.py: error: ...` line naming the option, the file, the document and the item (status 2, as argparse's
errors), never a traceback; Ctrl-C and SIGTERM end with one line giving the command that resumes (status 130)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import train
from documents_globalre import DocumentError
from globalre_training import TrainingError, reading_input
from tests.helpers import DOCRED_META, REPO
from tests.test_train import reset_accelerate, save_tiny_encoder, synthetic_documents, tiny_args


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return save_tiny_encoder(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    files = {}
    for split, n in (("train", 8), ("dev", 3)):
        files[split] = str(directory / f"{split}.json")
        Path(files[split]).write_text(json.dumps(synthetic_documents(n, split)))
    return files


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    reset_accelerate()
    yield
    reset_accelerate()


def run_command(argv: list[str], capsys) -> tuple[int, str]:
    """`python train.py ARGV` in this process: its exit status and the lines train.py itself printed (log
    lines left out)."""
    with pytest.raises(SystemExit) as exit_info:
        train.cli(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return exit_info.value.code, err[err.index("train.py: ") :] if "train.py: " in err else err


def dev_documents(change) -> list[dict]:
    docs = synthetic_documents(3, "dev")
    change(docs)
    return docs


def add_label(docs, doc_index, label):
    docs[doc_index]["labels"].append(label)


# Each mistake: the file written as --dev_file (or a change of the arguments), and what the one line says.
DEV_FILE_MISTAKES = {
    "relation missing from rel2id": (
        lambda docs: add_label(docs, 1, {"h": 0, "t": 1, "r": "P99999", "evidence": []}),
        r"--dev_file \S+dev-bad.json: document 1 \(title 'dev 1'\): label 3: relation 'P99999' is not in the label "
        r"set \(97 labels\) \(the label set is the rel2id.json of --label_dir \S+redocred-slice\)",
    ),
    "entity index out of range": (
        lambda docs: add_label(docs, 2, {"h": 0, "t": 17, "r": "P17", "evidence": []}),
        r"--dev_file \S+dev-bad.json: document 2 \(title 'dev 2'\): label 2: t=17 is outside vertexSet, which has "
        r"5 entities",
    ),
    "evidence outside the document": (
        lambda docs: add_label(docs, 1, {"h": 0, "t": 1, "r": "P17", "evidence": [0, 2]}),
        r"--dev_file \S+dev-bad.json: document 1 \(title 'dev 1'\): label 3: evidence \[0, 2\] must list sentence "
        r"ids below 2",
    ),
    "document without vertexSet": (
        lambda docs: docs[1].pop("vertexSet"),
        r"--dev_file \S+dev-bad.json: document 1 \(title 'dev 1'\): 'vertexSet' must be a list of entities",
    ),
    "mention outside its sentence": (
        lambda docs: docs[0]["vertexSet"][2][0].update(pos=[40, 42]),
        r"document 0 \(title 'dev 0'\): entity 2 mention 0: pos \[40, 42\] is outside sentence",
    ),
    "duplicate title": (
        lambda docs: docs[2].update(title="dev 0"),
        r"document 2 \(title 'dev 0'\): duplicate title, already used by document 0",
    ),
}


@pytest.mark.parametrize("mistake", sorted(DEV_FILE_MISTAKES))
def test_a_bad_document_ends_with_one_line_naming_file_document_and_item(
    tmp_path, encoder, data, capsys, mistake
):
    change, expected = DEV_FILE_MISTAKES[mistake]
    bad = tmp_path / "dev-bad.json"
    bad.write_text(json.dumps(dev_documents(change)))
    status, printed = run_command(tiny_args(encoder, {**data, "dev": str(bad)}, tmp_path / "out"), capsys)
    assert status == 2
    assert printed.startswith("train.py: error: ") and printed.count("\n") == 1, printed
    assert re.search(expected, printed), printed


def write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# Each mistake: extra arguments (made from tmp_path), and what the error says.
ARGUMENT_MISTAKES = {
    "test file that does not exist": (
        lambda tmp: ["--test_file", str(tmp / "missing.json")],
        r"--test_file \S+missing.json: no such file",
    ),
    "test file that is not JSON": (
        lambda tmp: ["--test_file", write(tmp / "test.json", '[{"title": "a",, ]')],
        r"--test_file \S+test.json: not valid JSON \(Expecting .* at line 1, column 16\)",
    ),
    "JSON lines with a bad line": (
        lambda tmp: ["--test_file", write(tmp / "test.jsonl", '{"title": "a"}\n{oops\n')],
        r"--test_file \S+test.jsonl: line 2 is not valid JSON",
    ),
    "test file that is not text": (
        lambda tmp: ["--test_file", write(tmp / "test.json", b"\xff\xfe[\x00")],
        r"--test_file \S+test.json: 'utf-8' codec can't decode byte 0xff",
    ),
    "a folder as the dev file": (
        lambda tmp: ["--dev_file", str(tmp)],
        r"--dev_file \S+: a folder, not a file",
    ),
    "unknown protocol without files": (
        lambda tmp: ["--protocol", "redocred-full", "--train_file", ""],
        r"--protocol redocred-full is not a named protocol \(redocred-dev400-val100-test, redocred, cdr\)",
    ),
    "protocol data dir that is not there": (  # the protocol gives the test file; the others are given
        lambda tmp: ["--protocol", "cdr", "--data_dir", str(tmp / "nowhere")],
        r"--test_file \S+nowhere/cdr/test.json: no such file\n  --protocol cdr looks for its files under "
        r"--data_dir \S+nowhere: give --data_dir \(or set GLOBALRE_DATA_DIR\)",
    ),
    "counts that would divide by zero or drop documents": (
        lambda tmp: ["--log_every", "0", "--checkpointing_steps", "0", "--max_train_docs", "-1"],
        r"--log_every must be at least 1; got 0\n  --max_train_docs must be at least 1; got -1\n  "
        r"--checkpointing_steps must be at least 1",
    ),
    "undirected relations without pair types": (
        lambda tmp: ["--undirected_relations", "P17"],
        r"--undirected_relations only matters with --pair_types",
    ),
    "undirected relation outside the label set": (
        lambda tmp: ["--pair_types", "PER:LOC", "--undirected_relations", "P17", "P99999"],
        r"--undirected_relations P99999: not in the label set \(97 labels, the rel2id.json of --label_dir ",
    ),
    "label dir without rel2id.json": (
        lambda tmp: ["--label_dir", str(tmp)],
        r"--label_dir \S+: no rel2id.json in this folder",
    ),
    "rel2id.json that is not JSON": (
        lambda tmp: ["--label_dir", os.path.dirname(write(tmp / "labels" / "rel2id.json", '{"Na": 0,'))],
        r"--label_dir \S+labels: \S+rel2id.json: not valid JSON",
    ),
    "rel2id.json that is a list": (
        lambda tmp: ["--label_dir", os.path.dirname(write(tmp / "labels" / "rel2id.json", '["Na", "P17"]'))],
        r"--label_dir \S+labels: \S+rel2id.json: expected a JSON object, found list",
    ),
    "output folder that is a file": (
        lambda tmp: ["--output_dir", write(tmp / "model", "")],
        r"--output_dir \S+model: a file, not a folder",
    ),
    "results list that is not a list": (
        lambda tmp: ["--append_results_to", write(tmp / "results.json", "{}")],
        r"--append_results_to \S+results.json: expected a JSON list, found a dict",
    ),
    "encoder whose config is not JSON": (
        lambda tmp: ["--encoder", os.path.dirname(write(tmp / "encoder" / "config.json", "{"))],
        r"--encoder \S+encoder: config.json is not valid JSON",
    ),
    "checkpoint whose progress.json is damaged": (
        lambda tmp: [
            "--resume_from_checkpoint",
            os.path.dirname(write(tmp / "checkpoint" / "progress.json", '{"labels": ')),
        ],
        r"--resume_from_checkpoint \S+checkpoint: its progress.json is damaged \(not valid JSON",
    ),
}


@pytest.mark.parametrize("mistake", sorted(ARGUMENT_MISTAKES))
def test_a_mistaken_input_ends_with_the_one_error_line(tmp_path, encoder, data, capsys, mistake):
    extra, expected = ARGUMENT_MISTAKES[mistake]
    # a flag given twice: the later one counts, as on any argparse command line
    argv = tiny_args(encoder, data, tmp_path / "out", *extra(tmp_path))
    status, printed = run_command(argv, capsys)
    assert status == 2
    assert printed.startswith("train.py: error: "), printed
    assert re.search(expected, printed), printed


def test_the_label_set_beside_the_training_file_is_named_when_a_relation_is_missing(
    tmp_path, encoder, capsys
):
    (tmp_path / "data").mkdir()
    rel2id = json.loads((DOCRED_META / "rel2id.json").read_text())
    del rel2id["P27"]  # the odd training documents have a P27 label
    (tmp_path / "data" / "rel2id.json").write_text(json.dumps(rel2id))
    train_file = write(tmp_path / "data" / "train.json", json.dumps(synthetic_documents(4, "train")))
    argv = tiny_args(encoder, {"train": train_file, "dev": train_file}, tmp_path / "out")
    argv[argv.index("--label_dir") : argv.index("--label_dir") + 2] = []
    argv[argv.index("--dev_file") : argv.index("--dev_file") + 2] = []
    status, printed = run_command(argv, capsys)
    assert status == 2
    assert "--train_file" in printed and "document 1 (title 'train 1')" in printed
    assert "relation 'P27' is not in the label set (96 labels)" in printed
    assert f"the label set is {tmp_path / 'data' / 'rel2id.json'}, beside the training file" in printed


def test_a_document_the_processor_cannot_encode_is_named_with_its_file():
    with pytest.raises(
        TrainingError, match=r"^--dev_file dev.json: document #2 \('Ghost'\), entity 0: no words\.$"
    ):
        with reading_input("--dev_file", "dev.json"):
            raise DocumentError("document #2 ('Ghost'), entity 0: no words.")


def test_the_command_line_exits_2_with_one_line_and_no_traceback(tmp_path, encoder, data):
    bad = tmp_path / "dev.json"
    bad.write_text(json.dumps(dev_documents(lambda docs: add_label(docs, 0, {"h": 9, "t": 0, "r": "P17"}))))
    result = subprocess.run(
        [sys.executable, "train.py", *tiny_args(encoder, {**data, "dev": str(bad)}, tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"train.py: error: --dev_file {bad}: document 0 (title 'dev 0'): label 2: h=9 is outside vertexSet, which "
        "has 5 entities"
    )


# ------------------------------------------------------------------------------------------------------------
# Interrupted runs
# ------------------------------------------------------------------------------------------------------------


def interrupt_at_call(monkeypatch, call: int, interrupt) -> None:
    """Makes the `call`-th training step interrupt the run (as Ctrl-C or SIGTERM would)."""
    step, calls = train.training_step, []

    def interrupted_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            interrupt()
        return step(*args, **kwargs)

    monkeypatch.setattr(train, "training_step", interrupted_step)


def raise_keyboard_interrupt():
    raise KeyboardInterrupt


def test_ctrl_c_says_where_the_last_checkpoint_is_and_how_to_resume(
    tmp_path, encoder, data, capsys, monkeypatch
):
    argv = tiny_args(encoder, data, tmp_path / "out", "--checkpointing_steps", "2", "--per_device_train_batch_size", "4")  # fmt: skip
    interrupt_at_call(monkeypatch, 4, raise_keyboard_interrupt)
    status, printed = run_command(argv, capsys)
    assert status == 130
    checkpoint = tmp_path / "out-checkpoints" / "checkpoints" / "checkpoint_0"
    assert printed.count("\n") == 1 and printed.startswith(
        f"train.py: interrupted; the last checkpoint is {checkpoint} (step 2). Resume with: "
    ), printed
    command = shlex.split(printed.split("Resume with: ", 1)[1])
    assert command[command.index("--resume_from_checkpoint") + 1] == "latest"
    assert command[2:-2] == argv  # the exact command, resumed from the newest checkpoint
    monkeypatch.undo()
    reset_accelerate()
    resumed = train.main(command[2:])
    assert resumed["optimizer_steps"] == 80  # 160 pairs in batches of 4, 2 epochs


def test_an_interruption_before_any_checkpoint_says_to_start_again(
    tmp_path, encoder, data, capsys, monkeypatch
):
    argv = tiny_args(encoder, data, tmp_path / "out")
    interrupt_at_call(monkeypatch, 1, raise_keyboard_interrupt)
    status, printed = run_command(argv, capsys)
    assert status == 130
    assert printed.startswith("train.py: interrupted before any checkpoint was saved in "), printed
    assert "(checkpoints are saved at the end of each epoch). Start again with: " in printed
    assert shlex.split(printed.split("Start again with: ", 1)[1])[2:] == argv


def test_sigterm_ends_like_ctrl_c_and_leaves_the_signal_handler_as_it_was(
    tmp_path, encoder, data, capsys, monkeypatch
):
    handler = signal.getsignal(signal.SIGTERM)
    argv = tiny_args(encoder, data, tmp_path / "out", "--hub_token", "hf_secret")
    interrupt_at_call(monkeypatch, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    status, printed = run_command(argv, capsys)
    assert status == 130
    assert printed.startswith("train.py: interrupted before any checkpoint was saved"), printed
    assert "hf_secret" not in printed and "--hub_token HUB_TOKEN" in printed
    assert signal.getsignal(signal.SIGTERM) is handler
