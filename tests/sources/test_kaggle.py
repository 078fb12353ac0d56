"""The kaggle source against the real 200-record head of arxiv-metadata-oai-snapshot.json in ../shared/data."""

from __future__ import annotations

import gzip
import json
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.domain import Record, Skip
from paperboy.sources import arxiv_names, kaggle
from paperboy.sources.base import ingest
from paperboy.store import Store


@pytest.fixture
def snapshot(shared_data: Path) -> Path:
    return shared_data / "arxiv_kaggle_snapshot" / "arxiv-metadata-oai-snapshot.head.jsonl"


def raw_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_real_record_lands_and_a_second_run_changes_nothing(store: Store, snapshot: Path) -> None:
    lines = sum(1 for line in snapshot.read_bytes().split(b"\n") if line.strip())
    first = ingest(store, kaggle.read_path(snapshot), kaggle.NAME, str(snapshot))
    assert first.skipped == []
    assert (first.seen, first.new) == (lines, lines) == (200, 200)
    assert store.stats()["papers"] == 200
    assert store.stats()["daily_entries"] == 0  # the snapshot has no daily lists
    second = ingest(store, kaggle.read_path(snapshot), kaggle.NAME, str(snapshot))
    assert (second.new, second.updated, second.unchanged) == (0, 0, 200)


def test_fields_match_the_file(store: Store, snapshot: Path) -> None:
    raws = raw_records(snapshot)
    ingest(store, kaggle.read_path(snapshot), kaggle.NAME, str(snapshot))
    for raw in (raws[0], raws[1], raws[-1]):
        paper = store.get_paper(raw["id"])
        assert paper is not None
        assert paper.title == " ".join(raw["title"].split())
        assert paper.abstract == " ".join(raw["abstract"].split())
        assert paper.categories == raw["categories"].split()
        assert paper.doi == raw["doi"]
        assert paper.links == ({"doi": f"https://doi.org/{raw['doi']}"} if raw["doi"] else {})
        assert paper.license == raw["license"]
        assert [v.number for v in paper.versions] == [int(v["version"][1:]) for v in raw["versions"]]
        created = [parsedate_to_datetime(v["created"]) for v in raw["versions"]]
        assert [v.created_at for v in paper.versions] == created
        assert paper.published_at == created[0]
        assert paper.updated_at == created[-1]
        assert [name.split()[-1] for name in paper.authors] == [p[0].split()[-1] for p in raw["authors_parsed"]]
    first = store.get_paper(raws[0]["id"])
    assert first is not None
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert first.journal_ref == raws[0]["journal-ref"]
    assert first.comments == raws[0]["comments"]


def test_tex_accents_in_names_become_unicode(store: Store, snapshot: Path) -> None:
    ingest(store, kaggle.read_path(snapshot), kaggle.NAME, str(snapshot))
    names = {pid: p.authors for pid, p in store.get_papers(["0704.0049", "0704.0062", "0704.0032"]).items()}
    assert names["0704.0049"] == ["Mikkel Øbro"]
    assert names["0704.0062"] == ["Rastislav Šrámek", "Broňa Brejová", "Tomáš Vinař"]
    assert names["0704.0032"] == ["A. Esteban-Pretel", "R. Tomàs", "J. W. F. Valle"]


def test_names_from_the_authors_string_when_authors_parsed_is_missing(tmp_path: Path, snapshot: Path) -> None:
    raws = {raw["id"]: raw for raw in raw_records(snapshot)}
    path = tmp_path / "no-parsed.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for pid in ("0704.0062", "0704.0187", "0704.0199"):
            out.write(json.dumps({k: v for k, v in raws[pid].items() if k != "authors_parsed"}) + "\n")
    papers = {item.paper.id: item.paper for item in kaggle.read_path(path) if isinstance(item, Record)}
    # the string spells the accents in TeX (Bro\v{n}a Brejov\'a) and carries affiliations in parentheses
    assert "\\v{n}" in raws["0704.0062"]["authors"]
    assert papers["0704.0062"].authors == ["Rastislav Šrámek", "Broňa Brejová", "Tomáš Vinař"]
    assert papers["0704.0187"].authors == ["G. Worseck", "C. Fechner", "L. Wisotzki", "A. Dall'Aglio"]
    assert papers["0704.0199"].authors == ["Christian Krattenthaler", "Thomas Müller"]


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        ("C. Bal\\'azs", "C. Balázs"),
        ("{\\O}bro", "Øbro"),
        ('G{\\"o}del', "Gödel"),
        ('Schr\\"{o}dinger', "Schrödinger"),
        ("Erd\\H{o}s", "Erdős"),
        ("Fran\\c{c}ois", "François"),
        ("Fran\\c cois", "François"),
        ("Ji\\v{r}\\'{\\i}", "Jiří"),
        ("Mu\\~noz", "Muñoz"),
        ("Dur\\^an", "Durân"),
        ("\\`Ecole", "Ècole"),
        ("Gro\\ss e", "Große"),
        ("Gro{\\ss}", "Groß"),
        ("\\L{}ukasz", "Łukasz"),
        ('\\AA{}ngstr\\"om', "Ångström"),
        ("Jos\\'e \\=Ota", "José Ōta"),
        ("\\foo{x} Smith", "\\foo{x} Smith"),  # unknown macros stay as they are
        ("\\vec{v} and \\omega", "\\vec{v} and \\omega"),  # macro names that start like accents are not accents
        ("Plain Name", "Plain Name"),
    ],
)
def test_tex_to_unicode(tex: str, text: str) -> None:
    assert arxiv_names.tex_to_unicode(tex) == text


def test_a_gzip_copy_reads_the_same_and_reports_byte_progress(store: Store, tmp_path: Path, snapshot: Path) -> None:
    compressed = tmp_path / "arxiv-metadata-oai-snapshot.json.gz"
    compressed.write_bytes(gzip.compress(snapshot.read_bytes()))
    calls: list[tuple[int, int]] = []
    from_gzip = [i.paper for i in kaggle.read_path(compressed, on_progress=lambda a, b: calls.append((a, b)))]
    from_plain = [i.paper for i in kaggle.read_path(snapshot) if isinstance(i, Record)]
    assert from_gzip == from_plain and len(from_gzip) == 200
    assert calls and calls[-1] == (compressed.stat().st_size, compressed.stat().st_size)
    assert [a for a, _ in calls] == sorted(a for a, _ in calls)
    report = ingest(store, kaggle.read_path(compressed), kaggle.NAME, str(compressed))
    assert (report.new, report.skipped) == (200, [])


def test_progress_is_reported_every_few_thousand_lines(tmp_path: Path, snapshot: Path) -> None:
    lines = snapshot.read_bytes().splitlines(keepends=True)
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"".join(lines * 50))  # 10,000 lines (duplicates, skipped: only progress matters here)
    calls: list[tuple[int, int]] = []
    for _ in kaggle.read_path(path, on_progress=lambda a, b: calls.append((a, b))):
        pass
    total = path.stat().st_size
    assert len(calls) >= 3
    assert all(b == total for _, b in calls)
    assert 0 < calls[0][0] < total and calls[-1] == (total, total)


def test_bad_lines_are_skipped_with_line_numbers_and_the_rest_lands(
    store: Store, tmp_path: Path, snapshot: Path
) -> None:
    lines = snapshot.read_bytes().splitlines()
    good = lines[:5]
    no_title = json.loads(lines[5])
    no_title["title"] = "  "
    bad_date = json.loads(lines[6])
    bad_date["versions"][0]["created"] = "Fri, 30 Feb 2007 10:00:00 GMT"
    not_arxiv = json.loads(lines[7])
    not_arxiv["id"] = "my-paper-1"
    wrong_type = json.loads(lines[8])
    wrong_type["categories"] = ["hep-ph"]
    body = [
        good[0],  # line 1
        b"{not json at all",  # 2
        good[1],  # 3
        json.dumps(no_title).encode(),  # 4
        good[2].replace(b'"title":"', b'"title":"\xff\xfe', 1),  # 5: not UTF-8
        b"",  # 6: blank lines are ignored
        json.dumps(bad_date).encode(),  # 7
        good[3],  # 8
        good[0],  # 9: the same paper again
        b"[1, 2, 3]",  # 10
        json.dumps(not_arxiv).encode(),  # 11
        json.dumps(wrong_type).encode(),  # 12
        good[4][: len(good[4]) // 2],  # 13: the download stopped mid-line
    ]
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"\n".join(body))
    report = ingest(store, kaggle.read_path(path), kaggle.NAME, str(path))
    reasons = {int(s.where.rsplit(":", 1)[1]): s.reason for s in report.skipped}
    assert all(s.where.startswith(f"{path}:") for s in report.skipped)
    assert set(reasons) == {2, 4, 5, 7, 9, 10, 11, 12, 13}
    assert "not valid JSON" in reasons[2]
    assert reasons[4] == "missing title"
    assert "not UTF-8" in reasons[5] and "0xff" in reasons[5]
    assert "impossible date" in reasons[7] and "30 Feb 2007" in reasons[7]
    assert "duplicate id 0704.0001" in reasons[9]
    assert "expected a JSON object" in reasons[10]
    assert "not an arXiv identifier" in reasons[11]
    assert "categories is a list" in reasons[12]
    assert "truncated" in reasons[13]
    assert report.new == 3  # lines 1, 3 and 8; line 5 was the paper of good[2]
    assert set(store.get_papers([json.loads(g)["id"] for g in good])) == {json.loads(good[i])["id"] for i in (0, 1, 3)}


def test_a_truncated_gzip_file_keeps_what_was_read(store: Store, tmp_path: Path, snapshot: Path) -> None:
    whole = gzip.compress(snapshot.read_bytes())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(whole[: len(whole) // 2])
    report = ingest(store, kaggle.read_path(path), kaggle.NAME, str(path))
    assert len(report.skipped) >= 1
    last = report.skipped[-1]
    assert "truncated or corrupt" in last.reason and last.where.startswith(f"{path}:")
    assert 50 < report.new < 200
    assert store.stats()["papers"] == report.new


def test_a_missing_file_is_one_skip(tmp_path: Path) -> None:
    assert list(kaggle.read_path(tmp_path / "nope.json")) == [Skip(str(tmp_path / "nope.json"), "no such file")]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(), max_size=8))
def test_arbitrary_text_lines_never_raise(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "snapshot.json"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    for item in kaggle.read_path(path):
        assert isinstance(item, Record | Skip)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = ("id", "title", "abstract", "authors", "authors_parsed", "categories", "versions", "doi", "license")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), JSON_VALUES), st.sampled_from(KEYS), JSON_VALUES)
def test_records_with_odd_values_never_raise(
    tmp_path_factory: pytest.TempPathFactory, record: dict[str, Any], key: str, value: Any
) -> None:
    base = {"id": "0704.0001", "title": "T", "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]}
    path = tmp_path_factory.mktemp("fuzz") / "snapshot.json"
    path.write_text("\n".join(json.dumps(r) for r in ({**base, **record}, {**base, key: value})), encoding="utf-8")
    for item in kaggle.read_path(path):
        assert isinstance(item, Record | Skip)
