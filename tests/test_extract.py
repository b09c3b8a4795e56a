"""extract.py, the corpus command: one line per document in input order, resume after a killed run (a half-written
last line redone, nothing done twice), bad documents reported and passed over, and several processes merged into
one complete output without duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import extract
from tests.helpers import EXAMPLE_DOCUMENT, make_tiny_model_dir


class RecordingExtractor:
    """Stands in for the pipeline: a graph naming the document's text, and the documents it was called on. With
    `output`, checks on each call that every earlier document's line is already written and flushed."""

    def __init__(self, output: Path | None = None):
        self.seen: list[str] = []
        self.output = output

    def __call__(self, document: dict) -> dict:
        if self.output is not None and self.seen:
            assert len(self.output.read_text(encoding="utf-8").splitlines()) >= len(self.seen)
        self.seen.append(document["text"])
        if document["text"] == "explode":
            raise ValueError("the model could not read this")
        return {"entities": [{"id": 0, "name": document["text"]}], "relations": []}


def write_corpus(path: Path, count: int, extra: dict[int, str] | None = None) -> list[str]:
    """A JSON Lines corpus of `count` documents `{"id": "d<i>", "text": "text <i>"}`; `extra` replaces lines."""
    lines = [json.dumps({"id": f"d{i}", "text": f"text {i}"}) for i in range(count)]
    for index, line in (extra or {}).items():
        lines[index] = line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [f"d{i}" for i in range(count)]


def output_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(corpus: Path, output: Path, extractor, rank: int = 0, world_size: int = 1) -> extract.Summary:
    return extract.extract(
        extract.read_corpus(corpus), output, extractor, rank=rank, world_size=world_size, progress=False
    )


def test_one_line_per_document_in_input_order_written_as_each_is_done(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    ids = write_corpus(corpus, 5)
    extractor = RecordingExtractor(output)
    extract.prepare_output(output)
    summary = run(corpus, output, extractor)
    assert [line["id"] for line in output_lines(output)] == ids
    assert output_lines(output)[3] == {"id": "d3", "entities": [{"id": 0, "name": "text 3"}], "relations": []}
    assert (summary.extracted, summary.skipped, summary.errors) == (5, 0, [])
    assert extract.count_documents(corpus) == 5


def test_bad_documents_get_an_error_line_and_the_run_goes_on(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    write_corpus(
        corpus,
        6,
        {
            1: "{not json",
            2: json.dumps({"id": "no-text", "title": "T"}),
            3: json.dumps([1, 2]),
            4: json.dumps({"id": "boom", "text": "explode"}),
        },
    )
    summary = run(corpus, output, RecordingExtractor())
    lines = output_lines(output)
    assert [line["id"] for line in lines] == ["d0", 2, "no-text", 4, "boom", "d5"]
    assert "line 2 is not JSON" in lines[1]["error"]
    assert "neither 'text'" in lines[2]["error"] and "['id', 'title']" in lines[2]["error"]
    assert "JSON list; expected an object" in lines[3]["error"]
    assert lines[4] == {"id": "boom", "error": "ValueError: the model could not read this"}
    assert "entities" in lines[5]
    assert summary.extracted == 6 and [identifier for identifier, _ in summary.errors] == [
        2,
        "no-text",
        4,
        "boom",
    ]
    assert "4 error(s)" in summary.describe() and "id 'boom': ValueError" in summary.describe()


def test_a_folder_of_text_files_in_name_order_with_file_names_as_ids(tmp_path):
    folder, output = tmp_path / "texts", tmp_path / "graph.jsonl"
    folder.mkdir()
    for name, text in [
        ("b.txt", "second"),
        ("a.txt", "first"),
        ("c.txt", "third"),
        ("notes.md", "not a text"),
    ]:
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    extractor = RecordingExtractor()
    run(folder, output, extractor)
    lines = output_lines(output)
    assert [line["id"] for line in lines] == ["a.txt", "b.txt", "bad.txt", "c.txt"]
    assert extractor.seen == ["first", "second", "third"]
    assert "cannot be read as UTF-8" in lines[2]["error"]
    assert extract.count_documents(folder) == 4


def test_resume_after_a_killed_run_does_each_document_once(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    ids = write_corpus(corpus, 5)
    # killed while writing the third line: two complete lines and half of one
    complete = [
        json.dumps({"id": "d0", "entities": [], "relations": []}),
        json.dumps({"id": "d1", "error": "x"}),
    ]
    output.write_text("\n".join(complete) + '\n{"id": "d2", "entit', encoding="utf-8")
    assert extract.prepare_output(output) == 2
    extractor = RecordingExtractor()
    summary = run(corpus, output, extractor)
    assert extractor.seen == [
        "text 2",
        "text 3",
        "text 4",
    ]  # the half-written document again, nothing earlier
    lines = output_lines(output)
    assert [line["id"] for line in lines] == ids
    assert lines[1] == {"id": "d1", "error": "x"}  # a document that failed before is not retried
    assert (summary.extracted, summary.skipped) == (3, 2)
    # a finished output: a rerun does nothing
    again = RecordingExtractor()
    assert run(corpus, output, again).skipped == 5 and again.seen == []
    assert [line["id"] for line in output_lines(output)] == ids


def test_a_complete_last_line_without_its_line_end_is_redone(tmp_path):
    output = tmp_path / "graph.jsonl"
    output.write_text('{"id": "d0"}\n{"id": "d1"}', encoding="utf-8")
    assert extract.repair_last_line(output) == 1
    assert output.read_text(encoding="utf-8") == '{"id": "d0"}\n'


def test_resume_refuses_an_output_of_another_input(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    write_corpus(corpus, 3)
    output.write_text(json.dumps({"id": "other", "entities": []}) + "\n", encoding="utf-8")
    with pytest.raises(
        extract.ResumeError, match=r"holds id 'other' where the input's document #0 .* id 'd0'"
    ):
        run(corpus, output, RecordingExtractor())
    write_corpus(corpus, 1)
    output.write_text('{"id": "d0"}\n{"id": "d1"}\n', encoding="utf-8")
    with pytest.raises(
        extract.ResumeError, match=r"more lines than the input has documents \(id 'd1' and on\)"
    ):
        run(corpus, output, RecordingExtractor())
    output.write_text('{"id": "d0"}\nnot json\n{"id": "d2"}\n', encoding="utf-8")
    with pytest.raises(extract.ResumeError, match="line 2 is not a JSON object"):
        extract.prepare_output(output)
    # --no_resume starts anew
    assert extract.prepare_output(output, resume=False) == 0 and not output.exists()


def test_two_processes_split_the_corpus_and_merge_it_complete_without_duplicates(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    ids = write_corpus(corpus, 7)
    extract.prepare_output(output, world_size=2)
    first, second = RecordingExtractor(), RecordingExtractor()
    run(corpus, output, first, rank=0, world_size=2)
    run(corpus, output, second, rank=1, world_size=2)
    assert first.seen == ["text 0", "text 2", "text 4", "text 6"] and second.seen == [
        "text 1",
        "text 3",
        "text 5",
    ]
    assert not output.exists() and extract.part_path(output, 1, 2).name == "graph.jsonl.part-1-of-2"
    assert extract.merge_parts(output, 2) == 7
    assert [line["id"] for line in output_lines(output)] == ids
    assert "index" not in output_lines(output)[0]
    assert not list(tmp_path.glob("graph.jsonl.part-*"))


def test_a_resumed_run_of_two_processes_continues_each_part(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    ids = write_corpus(corpus, 7)
    extract.prepare_output(output, world_size=2)
    run(corpus, output, RecordingExtractor(), rank=0, world_size=2)
    # process 1 was killed after its first document, half-way through its second line
    part = extract.part_path(output, 1, 2)
    part.write_text(
        json.dumps({"index": 1, "id": "d1", "entities": []}) + '\n{"index": 3, "id', encoding="utf-8"
    )
    with pytest.raises(extract.ResumeError, match="lacks document #3.*Run the same command again"):
        extract.merge_parts(output, 2)
    # the same command again: process 0 has nothing left, process 1 continues from its second document
    extract.prepare_output(output, world_size=2)
    first, second = RecordingExtractor(), RecordingExtractor()
    run(corpus, output, first, rank=0, world_size=2)
    run(corpus, output, second, rank=1, world_size=2)
    assert first.seen == [] and second.seen == ["text 3", "text 5"]
    extract.merge_parts(output, 2)
    assert [line["id"] for line in output_lines(output)] == ids


def test_a_merge_that_stopped_half_way_is_finished_without_duplicates(tmp_path):
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    ids = write_corpus(corpus, 5)
    extract.prepare_output(output, world_size=2)
    for rank in (0, 1):
        run(corpus, output, RecordingExtractor(), rank=rank, world_size=2)
    parts = {path: path.read_text(encoding="utf-8") for path in tmp_path.glob("graph.jsonl.part-*")}
    extract.merge_parts(output, 2)
    merged = output.read_text(encoding="utf-8").splitlines(keepends=True)
    # the merge was killed after three lines and half of the fourth: the parts are still there
    output.write_text("".join(merged[:3]) + merged[3][:10], encoding="utf-8")
    for path, text in parts.items():
        path.write_text(text, encoding="utf-8")
    assert extract.prepare_output(output, world_size=2) == 3
    extractors = [RecordingExtractor(), RecordingExtractor()]
    for rank in (0, 1):
        run(corpus, output, extractors[rank], rank=rank, world_size=2)
    assert extractors[0].seen == extractors[1].seen == []
    assert extract.merge_parts(output, 2) == 2
    assert [line["id"] for line in output_lines(output)] == ids


def test_parts_of_another_number_of_processes_are_refused(tmp_path):
    output = tmp_path / "graph.jsonl"
    extract.part_path(output, 0, 3).write_text("", encoding="utf-8")
    with pytest.raises(extract.ResumeError, match=r"another number of processes \(graph.jsonl.part-0-of-3\)"):
        extract.prepare_output(output, world_size=2)
    with pytest.raises(extract.ResumeError, match="another number of processes"):
        extract.prepare_output(output, world_size=1)
    extract.prepare_output(output, world_size=3)


def test_the_command_end_to_end_with_a_saved_model(tmp_path):
    model = make_tiny_model_dir(tmp_path / "model")
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    text_document = {
        "id": "text",
        "text": "Marie Curie was born in Warsaw. Warsaw is in Poland.",
        "entities": ["Marie Curie", "Warsaw", "Poland"],
    }
    lines = [
        json.dumps(text_document),
        json.dumps(EXAMPLE_DOCUMENT),
        json.dumps({"id": "plain", "text": "Hello."}),
    ]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = extract.main(
        ["--model", model, "--input", str(corpus), "--output", str(output), "--device", "cpu"]
    )
    written = output_lines(output)
    assert [line["id"] for line in written] == ["text", "Tiny example", "plain"]
    assert [e["name"] for e in written[0]["entities"]] == ["Marie Curie", "Warsaw", "Poland"]
    assert written[0]["entities"][1]["mentions"] == [
        {"text": "Warsaw", "start": 24, "end": 30, "sent_id": 0},
        {"text": "Warsaw", "start": 32, "end": 38, "sent_id": 1},
    ]
    assert written[1]["entities"][2]["mentions"] == [{"text": "Marie Curie", "sent_id": 1, "pos": [0, 2]}]
    assert all(0 <= t["head"] < 5 and 0 <= t["tail"] < 5 for t in written[1]["relations"])
    # this model has no entity detector: plain text is a bad document, with the reason
    assert "no entity detector" in written[2]["error"] and [i for i, _ in summary.errors] == ["plain"]
    # run again: nothing to do; --no_resume: everything again
    assert extract.main(["--model", model, "--input", str(corpus), "--output", str(output)]).skipped == 3
    again = extract.main(["--model", model, "--input", str(corpus), "--output", str(output), "--no_resume"])
    assert again.extracted == 3 and output_lines(output) == written


def test_each_process_reads_only_its_own_documents(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 5, {3: "{not json"})
    corpus.write_text(
        "\n" + corpus.read_text(encoding="utf-8"), encoding="utf-8"
    )  # a blank line is no document
    mine = list(extract.read_corpus(corpus, rank=1, world_size=2))
    assert [(d.index, d.source, d.id) for d in mine] == [(1, "line 3", "d1"), (3, "line 5", 5)]
    assert mine[1].error and mine[0].document == {"id": "d1", "text": "text 1"}


def token_classification_model(directory: Path) -> str:
    """A tiny random BertForTokenClassification with PERSON and CITY tags, saved to `directory`."""
    import torch
    from transformers import BertForTokenClassification

    from tests.helpers import tiny_encoder_config, tiny_tokenizer

    tokenizer = tiny_tokenizer(directory)
    config = tiny_encoder_config(tokenizer)
    config.id2label = {0: "O", 1: "B-PERSON", 2: "I-PERSON", 3: "B-CITY", 4: "I-CITY"}
    config.label2id = {label: index for index, label in config.id2label.items()}
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(directory)
    return str(directory)


def check_text_lines(lines: list[dict], texts: dict[str, str], types: set[str]) -> None:
    """Each line's entities have mentions whose text is the document's text at their span, of the given types."""
    for line in lines:
        assert "error" not in line, line
        text = texts[line["id"]]
        assert line["entities"], line["id"]
        for entity in line["entities"]:
            assert entity["type"] in types
            for mention in entity["mentions"]:
                assert text[mention["start"] : mention["end"]] == mention["text"]
        for triple in line["relations"]:
            assert 0 <= triple["head"] < len(line["entities"]) and 0 <= triple["tail"] < len(line["entities"])


TEXTS = {
    "a.txt": "Marie Curie was born in Warsaw. Curie studied in Paris.",
    "b.txt": "Paris is the capital of France.\nThe Seine flows through Paris.",
}


def test_the_command_on_a_folder_of_text_with_a_token_classification_model(tmp_path):
    model = make_tiny_model_dir(tmp_path / "model")
    ner = token_classification_model(tmp_path / "ner")
    folder, output = tmp_path / "texts", tmp_path / "graph.jsonl"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    type_map = tmp_path / "types.json"
    type_map.write_text(json.dumps({"PERSON": "PER", "CITY": "LOC"}))
    arguments = ["--model", model, "--input", str(folder), "--output", str(output), "--entity_detector", ner]
    summary = extract.main([*arguments, "--entity_type_map", str(type_map)])
    assert summary.extracted == 2 and not summary.errors
    lines = output_lines(output)
    assert [line["id"] for line in lines] == ["a.txt", "b.txt"]
    check_text_lines(lines, TEXTS, {"PER", "LOC"})
    # the map as JSON text: the same graphs
    summary = extract.main(
        [*arguments, "--entity_type_map", '{"PERSON": "PER", "CITY": "LOC"}', "--no_resume"]
    )
    assert output_lines(output) == lines
    with pytest.raises(SystemExit, match="--entity_type_map: not JSON"):
        extract.main([*arguments, "--entity_type_map", "{PERSON: PER}"])


def test_the_command_on_plain_text_with_the_models_own_detector(tmp_path):
    model = make_tiny_model_dir(tmp_path / "model", entity_types=["PER", "LOC"])
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"
    corpus.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in TEXTS.items()))
    summary = extract.main(
        ["--model", model, "--input", str(corpus), "--output", str(output), "--max_batch_tokens", "64"]
    )
    assert summary.extracted == 2 and not summary.errors
    check_text_lines(output_lines(output), TEXTS, {"PER", "LOC"})


def test_two_processes_under_accelerate_launch(tmp_path):
    """As users launch it on CPUs: two real processes (gloo), each writing its part, merged by the main one; then
    the corpus grows and the same command extracts only the new documents."""
    import os
    import subprocess
    import sys

    from tests.helpers import REPO
    from tests.test_train_distributed import free_port

    model = make_tiny_model_dir(tmp_path / "model")
    corpus, output = tmp_path / "corpus.jsonl", tmp_path / "graph.jsonl"

    def write(count: int) -> list[str]:
        documents = [
            {"id": f"d{i}", "text": f"Paris is in France, {i} km away.", "entities": ["Paris", "France"]}
            for i in range(count)
        ]
        corpus.write_text("".join(json.dumps(document) + "\n" for document in documents), encoding="utf-8")
        return [document["id"] for document in documents]

    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--main_process_port", str(free_port()), "extract.py",
        "--model", model, "--input", str(corpus), "--output", str(output),
    ]  # fmt: skip
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for count, new in ((5, {0: 3, 1: 2}), (8, {0: 1, 1: 2})):
        ids = write(count)
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-6000:]
        for rank, extracted in new.items():
            assert f"process {rank} of 2: {extracted} document(s) extracted" in result.stderr
        assert [line["id"] for line in output_lines(output)] == ids
        assert all(line["entities"] for line in output_lines(output))
        assert not list(tmp_path.glob("graph.jsonl.part-*"))


@pytest.mark.parametrize("error_type", ["MemoryError", "OutOfMemoryError"])
def test_running_out_of_memory_ends_the_run_instead_of_writing_an_error_line(error_type):
    # an error line is never retried on resume, so the machine's failure must not be recorded as the document's
    error = MemoryError() if error_type == "MemoryError" else type("OutOfMemoryError", (RuntimeError,), {})()

    def extract_one(document):
        raise error

    document = extract.CorpusDocument(index=0, source="line 1", id="a", document={"text": "x"})
    with pytest.raises(type(error)):
        extract.extract_line(document, extract_one)
    assert extract.extract_line(document, lambda d: {"entities": [], "relations": []})["id"] == "a"
