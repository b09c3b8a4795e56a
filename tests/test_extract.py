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
