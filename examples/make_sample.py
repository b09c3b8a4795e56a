"""Writes GlobalRE's embedded sample: small DocRED-format train/dev/test files about invented people, cities and
countries, made from templates by this script (not copied from any dataset), plus their relation metadata.

Relations reuse DocRED's Wikidata ids so that the label set looks like the real one. Some facts are stated in
one sentence, others need two (the person's city in one sentence, the city's country in another), so the
sample exercises cross-sentence extraction.

    python examples/make_sample.py --output_dir outputs/sample
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

RELATIONS = {
    "P17": "country",
    "P36": "capital",
    "P19": "place of birth",
    "P27": "country of citizenship",
    "P131": "located in the administrative territorial entity",
    "P108": "employer",
    "P159": "headquarters location",
}
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ten",
    "vo",
    "sel",
    "dor",
    "an",
    "be",
    "ru",
    "fi",
    "gal",
    "mon",
    "zu",
    "ter",
]


def invented_name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


class DocumentBuilder:
    """Accumulates sentences (as word lists), entities with mentions, and labels."""

    def __init__(self, title: str):
        self.title = title
        self.sents: list[list[str]] = []
        self.entities: dict[str, tuple[int, str]] = {}
        self.vertex_set: list[list[dict]] = []
        self.labels: list[dict] = []

    def entity(self, name: str, entity_type: str) -> int:
        if name not in self.entities:
            self.entities[name] = (len(self.vertex_set), entity_type)
            self.vertex_set.append([])
        return self.entities[name][0]

    def sentence(self, *pieces: str | tuple[str, str]) -> int:
        """Adds a sentence; a piece is plain text or `(entity name, type)`, recorded as a mention."""
        words: list[str] = []
        sent_id = len(self.sents)
        for piece in pieces:
            if isinstance(piece, tuple):
                name, entity_type = piece
                index = self.entity(name, entity_type)
                start = len(words)
                words.extend(name.split())
                self.vertex_set[index].append(
                    {"name": name, "sent_id": sent_id, "pos": [start, len(words)], "type": entity_type}
                )
            else:
                words.extend(piece.split())
        words.append(".")
        self.sents.append(words)
        return sent_id

    def relation(self, head: str, tail: str, relation: str, evidence: list[int]) -> None:
        self.labels.append(
            {
                "h": self.entities[head][0],
                "t": self.entities[tail][0],
                "r": relation,
                "evidence": sorted(set(evidence)),
            }
        )

    def to_dict(self) -> dict:
        return {"title": self.title, "sents": self.sents, "vertexSet": self.vertex_set, "labels": self.labels}


def make_document(rng: random.Random, index: int) -> dict:
    country = invented_name(rng, 2) + "ia"
    capital = invented_name(rng, 2)
    city = invented_name(rng, 3)
    person = f"{invented_name(rng, 2)} {invented_name(rng, 2)}"
    company = invented_name(rng, 2) + " Industries"
    year = str(rng.randint(1850, 1990))
    doc = DocumentBuilder(f"{person} (sample {index})")
    s_birth = doc.sentence((person, "PER"), f"was born in {year} in", (city, "LOC"))
    s_city = doc.sentence((city, "LOC"), "is a town in", (country, "LOC"))
    s_capital = doc.sentence("The capital of", (country, "LOC"), "is", (capital, "LOC"))
    s_work = doc.sentence(
        rng.choice(["Later", "As an adult", "After school"]) + " ,",
        (person, "PER"),
        "worked for",
        (company, "ORG"),
    )
    s_company = doc.sentence((company, "ORG"), "has its head office in", (capital, "LOC"))
    if rng.random() < 0.5:  # a distractor sentence with a second country and no stated relation
        doc.sentence((invented_name(rng, 2) + "land", "LOC"), "borders", (country, "LOC"))
    doc.relation(person, city, "P19", [s_birth])
    doc.relation(person, country, "P27", [s_birth, s_city])
    doc.relation(city, country, "P17", [s_city])
    doc.relation(city, country, "P131", [s_city])
    doc.relation(country, capital, "P36", [s_capital])
    doc.relation(capital, country, "P17", [s_capital])
    doc.relation(person, company, "P108", [s_work])
    doc.relation(company, capital, "P159", [s_company])
    doc.relation(company, country, "P17", [s_company, s_capital])
    return doc.to_dict()


def write_sample(
    output_dir: str | Path, sizes: dict[str, int] | None = None, seed: int = 13
) -> dict[str, Path]:
    """Writes `train.json`, `dev.json`, `test.json`, `rel2id.json` and `rel_info.json`; returns their paths."""
    sizes = sizes or {"train": 32, "dev": 12, "test": 12}
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths, index = {}, 0
    for split, count in sizes.items():
        documents = []
        for _ in range(count):
            documents.append(make_document(rng, index))
            index += 1
        paths[split] = output_dir / f"{split}.json"
        paths[split].write_text(json.dumps(documents, indent=1))
    rel2id = {"Na": 0, **{relation: i + 1 for i, relation in enumerate(RELATIONS)}}
    (output_dir / "rel2id.json").write_text(json.dumps(rel2id, indent=1))
    (output_dir / "rel_info.json").write_text(json.dumps(RELATIONS, indent=1))
    paths["rel2id"] = output_dir / "rel2id.json"
    paths["rel_info"] = output_dir / "rel_info.json"
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output_dir", default="outputs/sample", help="Folder for the sample files.")
    parser.add_argument("--seed", type=int, default=13, help="Seed of the invented names.")
    args = parser.parse_args()
    for name, path in write_sample(args.output_dir, seed=args.seed).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
