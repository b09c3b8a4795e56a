"""results/gpu/collect.py: a GPU session's archives come home once, into results/accuracy.json."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile

from tests.helpers import REPO, needs_shared_data


def _collect_module():
    spec = importlib.util.spec_from_file_location("collect", REPO / "results" / "gpu" / "collect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _archive(path, files: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_collect_appends_each_run_once_and_prints_bench_tables(tmp_path, capsys):
    results = {
        "protocol": "redocred-dev400-val100-test",
        "command": ["train.py", "--preset", "best"],
        "f1": 0.6,
        "ign_f1": 0.59,
        "precision": 0.61,
        "recall": 0.59,
        "output_dir": "outputs/gpu-best/best",
        "finished_at": "2026-11-25T03:00:00",
    }
    files_at = tmp_path / "files"
    files_at.mkdir()
    _archive(files_at / "best.tar.gz", {"outputs/gpu-best/best/results.json": json.dumps(results)})
    _archive(
        files_at / "bench-minilm.tar.gz", {"outputs/gpu-bench-minilm/minilm.log": "speedup_vs_naive: 9.99"}
    )
    accuracy = tmp_path / "accuracy.json"
    accuracy.write_text("[]")
    argv = [str(files_at), "--accuracy", str(accuracy), "--root", str(tmp_path / "root")]
    collect = _collect_module()
    collect.main(argv)
    collect.main(argv)
    entries = json.loads(accuracy.read_text())
    assert [entry["f1"] for entry in entries] == [0.6]
    output = capsys.readouterr().out
    assert "already in accuracy.json: best" in output and "speedup_vs_naive: 9.99" in output


@needs_shared_data
def test_the_kit_dry_run_times_both_encodings_and_trains_the_packed_preset(tmp_path):
    """`GLOBALRE_DRY_RUN=1` runs the packed parts' commands on CPU on a few documents; each part leaves its archive
    with its logs."""
    import os
    import subprocess

    environment = {**os.environ, "GLOBALRE_DRY_RUN": "1", "OUT": str(tmp_path)}
    result = subprocess.run(
        ["bash", "results/gpu/session.sh", "bench-packed", "train-packed"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for part, logs in (
        ("bench-packed", ["packed.log", "packed-tiny.log"]),
        ("train-packed", ["train-packed.log"]),
    ):
        with tarfile.open(tmp_path / f"{part}.tar.gz") as tar:
            names = tar.getnames()
        for log in logs:
            assert f"outputs/dryrun-{part}/{log}" in names
    assert "packed_speedup_vs_pair" in result.stdout
