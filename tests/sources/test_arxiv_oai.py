"""The arxiv-oai source against the real OAI-PMH responses in ../shared/data/arxiv_oai.

Expected values are read from the XML by the test itself (with xml.etree, independently of the lxml code under
test). Harvests run against the local HTTP server, which serves the real ListRecords records split into pages with
resumption tokens added at test time, so the real records flow through the real network code path.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.domain import Record, Skip
from paperboy.sources import arxiv_names, arxiv_oai
from paperboy.sources.base import Flush, RunReport, clean_text, ingest
from paperboy.sources.http import Fetcher
from paperboy.store import Store
from tests.conftest import LocalServer

OAI = "{http://www.openarchives.org/OAI/2.0/}"


# -- reading the expected values straight from the XML ---------------------------------------------------------


def records_of(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter(f"{OAI}record"))


def content_of(record: ET.Element) -> ET.Element:
    metadata = record.find(f"{OAI}metadata")
    assert metadata is not None
    return next(iter(metadata))


def local(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    return next((c for c in element if local(c) == name), None)


def text(element: ET.Element | None, name: str) -> str | None:
    found = child(element, name)
    return clean_text("".join(found.itertext())) if found is not None else None


def id_of(record: ET.Element) -> str:
    value = text(content_of(record), "id")
    assert value
    return value


def raw_spans(path: Path) -> tuple[str, list[str]]:
    """The response's text before its first record, and each <record>...</record> exactly as the server sent it."""
    body = path.read_text(encoding="utf-8")
    spans = re.findall(r"<record>.*?</record>", body, flags=re.S)
    assert len(spans) == len(records_of(path))
    return body[: body.index("<record>")], spans


@pytest.fixture
def raw_dir(shared_data: Path) -> Path:
    return shared_data / "arxiv_oai" / "litpuvn_arXivRaw"


@pytest.fixture
def arxiv_dir(shared_data: Path) -> Path:
    return shared_data / "arxiv_oai" / "hepcrawl_arXiv_format"


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    client = Fetcher(pause=0, retries=1, backoff=0, timeout=10)
    yield client
    client.close()


# -- saved responses -------------------------------------------------------------------------------------------


def test_every_arxivraw_record_lands_and_a_second_run_changes_nothing(store: Store, raw_dir: Path) -> None:
    files = [raw_dir / "ListRecords.xml", raw_dir / "GetRecord.xml"]
    records = [r for f in files for r in records_of(f)]
    ids = {id_of(r) for r in records}
    assert len(records_of(files[0])) == 387
    first = ingest(store, arxiv_oai.read_files(files), arxiv_oai.NAME, "x")
    assert first.skipped == [] and first.error is None
    assert (first.seen, first.new) == (len(records), len(ids))
    assert store.stats()["papers"] == len(ids)
    assert store.stats()["daily_entries"] == 0
    second = ingest(store, arxiv_oai.read_files(files), arxiv_oai.NAME, "x")
    assert (second.new, second.updated, second.unchanged) == (0, 0, len(records))


def test_arxivraw_fields_match_the_xml(store: Store, raw_dir: Path) -> None:
    path = raw_dir / "ListRecords.xml"
    ingest(store, arxiv_oai.read_files([path]), arxiv_oai.NAME, str(path))
    with_doi = 0
    for record in records_of(path):
        meta = content_of(record)
        paper = store.get_paper(id_of(record))
        assert paper is not None
        assert paper.title == text(meta, "title")
        assert paper.abstract == text(meta, "abstract")
        assert paper.categories == (text(meta, "categories") or "").split()
        assert paper.comments == text(meta, "comments")
        assert paper.journal_ref == text(meta, "journal-ref")
        assert paper.license == text(meta, "license")
        assert paper.doi == text(meta, "doi")
        assert paper.links.get("doi") == (f"https://doi.org/{paper.doi}" if paper.doi else None)
        with_doi += paper.doi is not None
        versions = {
            int(v.attrib["version"][1:]): parsedate_to_datetime(text(v, "date") or "").astimezone(UTC)
            for v in meta
            if local(v) == "version"
        }
        assert [(v.number, v.created_at) for v in paper.versions] == sorted(versions.items())
        assert paper.published_at == versions[1]
        assert paper.updated_at == versions[max(versions)]
        authors = arxiv_names.tex_to_unicode(text(meta, "authors") or "")
        assert paper.authors, authors
        position = 0
        for name in paper.authors:  # every name is a piece of the string, in order, without affiliations
            assert not set(name) & set("(),;"), (name, authors)
            assert " and " not in name
            position = authors.index(name.split()[0], position)
    assert with_doi > 0


def test_arxivraw_author_strings_split_into_names(raw_dir: Path) -> None:
    strings = {text(content_of(r), "authors") or "" for r in records_of(raw_dir / "ListRecords.xml")}
    affiliated = next(s for s in strings if "((1)" in s)  # 'A (1,2), B (3), ... and E (1) ((1) Univ..., ...)'
    names = arxiv_names.split_authors(affiliated)
    assert len(names) == affiliated.split("((1)")[0].count("(")
    assert all("(" not in n and "University" not in n for n in names)
    junior = next(s for s in strings if " Jr.," in s)
    assert any(n.endswith(" Jr.") for n in arxiv_names.split_authors(junior))
    assert arxiv_names.split_authors("A. Smith, Jr., B. Jones (MIT) and C. Doe, et al.") == [
        "A. Smith Jr.",
        "B. Jones",
        "C. Doe",
    ]
    assert arxiv_names.split_authors("Sorina Ionica (LFANT, UB), Emmanuel Thom\\'e (CARAMEL") == [
        "Sorina Ionica",
        "Emmanuel Thom\\'e",
    ]
    assert arxiv_names.split_authors("Kim Anand and Sandra Band") == ["Kim Anand", "Sandra Band"]


def test_getrecord_fields(store: Store, raw_dir: Path) -> None:
    path = raw_dir / "GetRecord.xml"
    (record,) = records_of(path)
    report = ingest(store, arxiv_oai.read_files([path]), arxiv_oai.NAME, str(path))
    assert (report.new, report.skipped) == (1, [])
    paper = store.get_paper(id_of(record))
    assert paper is not None
    meta = content_of(record)
    assert paper.title == text(meta, "title")  # the entity &amp; is decoded
    assert "&" in paper.title
    assert len(paper.authors) == (text(meta, "authors") or "").count(",") + 1


def test_every_arxiv_format_record_lands_with_its_fields(store: Store, arxiv_dir: Path) -> None:
    files = sorted(arxiv_dir.glob("*.xml"))
    assert files
    for path in files:
        records = records_of(path)
        report = ingest(store, arxiv_oai.read_files([path]), arxiv_oai.NAME, str(path))
        assert report.skipped == [] and report.error is None, path
        assert report.seen == len(records)
        for record in records:  # each file is checked right after it lands: files disagree about one paper
            meta = content_of(record)
            paper = store.get_paper(id_of(record))
            assert paper is not None
            assert paper.title == text(meta, "title")
            assert paper.abstract == text(meta, "abstract")
            assert paper.categories == (text(meta, "categories") or "").split()
            assert paper.journal_ref == text(meta, "journal-ref")
            assert paper.comments == text(meta, "comments")
            assert paper.license == text(meta, "license")
            doi_field = text(meta, "doi")
            assert paper.doi == (re.split(r"[\s,;]+", doi_field)[0] if doi_field else None)
            created = datetime.fromisoformat(text(meta, "created") or "").replace(tzinfo=UTC)
            assert [(v.number, v.created_at) for v in paper.versions] == [(1, created)]
            assert paper.published_at == created
            updated = text(meta, "updated")
            assert paper.updated_at == (datetime.fromisoformat(updated).replace(tzinfo=UTC) if updated else created)
            expected_authors = []
            for author in child(meta, "authors") or []:
                parts = [text(author, p) for p in ("forenames", "keyname", "suffix")]
                name = " ".join(p for p in parts if p)
                if any(ch.isalnum() for ch in name):
                    expected_authors.append(name)
            assert paper.authors == expected_authors
    ids = {id_of(r) for f in files for r in records_of(f)}
    assert store.stats()["papers"] == len(ids)


def test_a_folder_reads_its_xml_files(store: Store, arxiv_dir: Path) -> None:
    report = ingest(store, arxiv_oai.read_files([arxiv_dir]), arxiv_oai.NAME, str(arxiv_dir))
    assert report.skipped == []
    assert report.seen == sum(len(records_of(f)) for f in arxiv_dir.glob("*.xml"))


def test_malformed_records_are_skipped_with_where_and_why_and_the_rest_lands(
    store: Store, raw_dir: Path, tmp_path: Path
) -> None:
    head, spans = raw_spans(raw_dir / "ListRecords.xml")
    good = [spans[0], spans[6]]
    no_title = re.sub(r"<title>.*?</title>", "", spans[1], flags=re.S)
    bad_date = re.sub(r"<date>[^<]*</date>", "<date>Sun, 31 Foo 2008 25:00:00 GMT</date>", spans[2], count=1)
    deleted = spans[3].replace("<header>", '<header status="deleted">')
    other_format = spans[4].replace('<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"', '<dc xmlns="urn:x:dc"')
    other_format = other_format.replace("</arXivRaw>", "</dc>")
    body = head + "\n".join([good[0], no_title, bad_date, spans[0], deleted, other_format, good[1], spans[7]])
    broken = body[: body.index(spans[7]) + len(spans[7]) // 2]  # cut in the middle of the last record
    path = tmp_path / "broken.xml"
    path.write_text(broken, encoding="utf-8")
    html = tmp_path / "html.xml"
    html.write_text("<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>")
    unclosed_html = tmp_path / "unclosed.xml"
    unclosed_html.write_text("<!DOCTYPE html>\n<html><body><p>Service unavailable<br></body></html>")
    error = tmp_path / "error.xml"
    error.write_text(
        head.split("<ListRecords>")[0] + '<error code="idDoesNotExist">no such id</error></OAI-PMH>', encoding="utf-8"
    )
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.xml"

    files = [path, html, unclosed_html, error, empty, missing]
    report = ingest(store, arxiv_oai.read_files(files), arxiv_oai.NAME, "x")

    def where(span: str, start: int = 0) -> str:
        """file:line identifier of the record ``span`` (its first copy at or after ``start``)."""
        identifier = re.search(r"<identifier>(.*?)</identifier>", span)
        assert identifier
        return f"{path}:{broken.count(chr(10), 0, broken.index(span, start)) + 1} {identifier.group(1)}"

    reasons = {s.where: s.reason for s in report.skipped}
    assert reasons[where(no_title)] == "missing title"
    assert "impossible date" in reasons[where(bad_date)] and "v1" in reasons[where(bad_date)]
    assert "duplicate id" in reasons[where(spans[0], broken.index(spans[0]) + 1)]
    assert reasons[where(deleted)] == "deleted record"
    assert "unknown metadata format <dc>" in reasons[where(other_format)]
    assert "broken XML" in reasons[str(path)] and "truncated" in reasons[str(path)]
    assert "HTML" in reasons[str(html)] and "HTML" in reasons[str(unclosed_html)]
    assert "idDoesNotExist" in reasons[str(error)] and "no such id" in reasons[str(error)]
    assert reasons[str(empty)] == "empty response"
    assert "cannot read" in reasons[str(missing)]
    assert len(report.skipped) == 11
    stored = {re.findall(r"<id>(.*?)</id>", span)[0] for span in good}
    assert store.stats()["papers"] == len(stored) == 2
    assert all(store.get_paper(i) for i in stored)


def test_the_parser_resolves_no_entities_and_fetches_nothing(raw_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    head, spans = raw_spans(raw_dir / "ListRecords.xml")
    doctype = (
        f'<!DOCTYPE OAI-PMH [<!ENTITY leak SYSTEM "file://{secret}">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    )
    record = re.sub(r"<title>", "<title>&leak;&c;", spans[0], count=1)
    body = head.replace("<OAI-PMH", doctype + "\n<OAI-PMH", 1) + record + "</ListRecords></OAI-PMH>"
    body = body.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-8"?>\n', 1)
    items = list(arxiv_oai.read_files([_write(tmp_path / "x.xml", body)]))
    for item in items:
        assert "TOP SECRET" not in repr(item)
        assert "aaaaaaaaaa" * 8 not in repr(item)


def _write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


# -- harvesting through the local server -----------------------------------------------------------------------

RESPONSE_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>2016-10-21T04:36:53Z</responseDate><request>http://export.arxiv.org/oai2</request>"
)


def oai_error(code: str, message: str) -> bytes:
    return f'{RESPONSE_HEAD}<error code="{code}">{message}</error></OAI-PMH>'.encode()


@dataclass
class OaiServer:
    """Serves the real ListRecords records in pages chained by resumption tokens; can be told to misbehave."""

    pages: list[bytes]
    tokens: list[str]  # tokens[i] leads to pages[i + 1]
    ids: list[list[str]]
    fail_page: int | None = None  # 0-based page that fails while set
    failure: str = "http 500"
    expired: set[str] = field(default_factory=set)

    def __call__(self, path: str, query: dict[str, str]) -> tuple[int, bytes, str]:
        token = query.get("resumptionToken")
        if token in self.expired:
            return (
                200,
                oai_error("badResumptionToken", "The value of the resumptionToken argument is invalid"),
                "text/xml",
            )
        if token is None:
            if query.get("metadataPrefix") != "arXivRaw" or query.get("verb") != "ListRecords":
                return 200, oai_error("badArgument", "Illegal arguments"), "text/xml"
            index = 0
        elif token in self.tokens:
            index = self.tokens.index(token) + 1
        else:
            return 200, oai_error("badResumptionToken", "unknown token"), "text/xml"
        body = self.pages[index]
        if index == self.fail_page:
            if self.failure == "http 500":
                return 500, b"Internal Server Error", "text/plain"
            if self.failure == "html":
                return 200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html"
            return 200, body[: len(body) * 2 // 3], "text/xml"  # truncated XML
        return 200, body, "text/xml"


def make_server(path: Path, n_pages: int) -> OaiServer:
    head, spans = raw_spans(path)
    size = math.ceil(len(spans) / n_pages)
    pages, tokens, ids = [], [], []
    for number in range(n_pages):
        chunk = spans[number * size : (number + 1) * size]
        token = f"{1403493 + number}|{(number + 1) * size + 1}" if number < n_pages - 1 else ""
        body = (
            head
            + "\n".join(chunk)
            + f'\n<resumptionToken cursor="{number * size}" completeListSize="{len(spans)}">{token}</resumptionToken>'
            + "\n</ListRecords>\n</OAI-PMH>\n"
        )
        pages.append(body.encode("utf-8"))
        ids.append([id_of(r) for r in ET.fromstring(body).iter(f"{OAI}record")])
        if token:
            tokens.append(token)
    return OaiServer(pages=pages, tokens=tokens, ids=ids)


def run_harvest(store: Store, fetcher: Fetcher, url: str, restart: bool = False) -> RunReport:
    items = arxiv_oai.harvest(
        fetcher, store, url, "arXivRaw", from_="2016-10-20", until="2016-10-21", set_="cs", restart=restart
    )
    return ingest(store, items, arxiv_oai.NAME, url, batch_size=50)


def key_for(url: str) -> str:
    return arxiv_oai.checkpoint_key(url, "arXivRaw", "2016-10-20", "2016-10-21", "cs")


def test_a_harvest_follows_resumption_tokens_and_passes_parameters_once(
    store: Store, fetcher: Fetcher, http_server: LocalServer, raw_dir: Path
) -> None:
    server = make_server(raw_dir / "ListRecords.xml", 4)
    http_server.route("/oai", server)
    url = f"{http_server.url}/oai"
    report = run_harvest(store, fetcher, url)
    assert report.error is None and report.skipped == []
    all_ids = {i for page in server.ids for i in page}
    assert report.seen == 387 and report.new == len(all_ids) == store.stats()["papers"]
    queries = [q for p, q in http_server.requests if p == "/oai"]
    assert queries[0] == {
        "verb": "ListRecords",
        "metadataPrefix": "arXivRaw",
        "from": "2016-10-20",
        "until": "2016-10-21",
        "set": "cs",
    }
    assert queries[1:] == [{"verb": "ListRecords", "resumptionToken": t} for t in server.tokens]
    assert store.load_checkpoint(key_for(url)) is None
    again = run_harvest(store, fetcher, url)
    assert (again.new, again.updated, again.unchanged, again.error) == (0, 0, 387, None)


@pytest.mark.parametrize("failure", ["http 500", "truncated", "html"])
def test_an_interrupted_harvest_resumes_where_it_stopped(
    store: Store, fetcher: Fetcher, http_server: LocalServer, raw_dir: Path, failure: str
) -> None:
    server = make_server(raw_dir / "ListRecords.xml", 4)
    server.fail_page, server.failure = 2, failure
    http_server.route("/oai", server)
    url = f"{http_server.url}/oai"

    first = run_harvest(store, fetcher, url)
    assert first.status == "failed" and first.error
    assert "run again" in first.error or "try again" in first.error
    stored_before = {i for i in server.ids[0] + server.ids[1]}
    assert all(store.get_paper(i) for i in stored_before)
    assert not any(store.get_paper(i) for i in server.ids[3])
    checkpoint = store.load_checkpoint(key_for(url))
    assert checkpoint is not None and checkpoint["token"] == server.tokens[1]  # the token of page 3
    assert checkpoint["state"]["pages"] == 2
    if failure == "truncated":
        assert "broken XML" in first.error
    if failure == "html":
        assert "HTML" in first.error

    server.fail_page = None
    already = len(http_server.requests)
    second = run_harvest(store, fetcher, url)
    assert second.error is None and second.skipped == []
    queries = [q for _, q in http_server.requests[already:]]
    assert queries[0] == {"verb": "ListRecords", "resumptionToken": server.tokens[1]}
    assert len(queries) == 2
    assert second.seen == len(server.ids[2]) + len(server.ids[3])
    all_ids = {i for page in server.ids for i in page}
    assert store.stats()["papers"] == len(all_ids)
    assert store.load_checkpoint(key_for(url)) is None


def test_the_checkpoint_moves_only_after_the_page_was_flushed(
    store: Store, fetcher: Fetcher, http_server: LocalServer, raw_dir: Path
) -> None:
    """A crash between reading a page and committing it must not skip the page on resume."""
    server = make_server(raw_dir / "ListRecords.xml", 3)
    http_server.route("/oai", server)
    url = f"{http_server.url}/oai"
    items = arxiv_oai.harvest(fetcher, store, url, "arXivRaw", from_="2016-10-20", until="2016-10-21", set_="cs")
    records = 0
    for item in items:
        if isinstance(item, Flush):
            break
        records += 1
    assert records == len(server.ids[0])
    assert store.load_checkpoint(key_for(url)) is None  # not yet: the ingest loop commits first
    next(items)  # the ingest loop resumes the source after committing
    checkpoint = store.load_checkpoint(key_for(url))
    assert checkpoint is not None and checkpoint["token"] == server.tokens[0]


def test_no_records_match_is_an_empty_harvest(store: Store, fetcher: Fetcher, http_server: LocalServer) -> None:
    message = (
        "The combination of the values of the from, until, set and metadataPrefix arguments results in an empty list."
    )
    http_server.route("/oai", lambda path, query: (200, oai_error("noRecordsMatch", message), "text/xml"))
    url = f"{http_server.url}/oai"
    report = run_harvest(store, fetcher, url)
    assert (report.status, report.seen, report.error) == ("ok", 0, None)
    assert store.load_checkpoint(key_for(url)) is None


def test_an_expired_token_asks_for_restart_and_restart_starts_over(
    store: Store, fetcher: Fetcher, http_server: LocalServer, raw_dir: Path
) -> None:
    server = make_server(raw_dir / "ListRecords.xml", 3)
    server.expired = {"4711|2001"}
    http_server.route("/oai", server)
    url = f"{http_server.url}/oai"
    store.save_checkpoint(key_for(url), "4711|2001", {"pages": 5, "records": 5000})

    failed = run_harvest(store, fetcher, url)
    assert failed.status == "failed"
    assert failed.error and "badResumptionToken" in failed.error and "--restart" in failed.error
    assert http_server.requests[0][1] == {"verb": "ListRecords", "resumptionToken": "4711|2001"}
    assert store.load_checkpoint(key_for(url)) is not None  # kept: the user decides to start over

    already = len(http_server.requests)
    restarted = run_harvest(store, fetcher, url, restart=True)
    assert restarted.error is None and restarted.seen == 387
    assert http_server.requests[already][1]["metadataPrefix"] == "arXivRaw"
    assert store.load_checkpoint(key_for(url)) is None


def test_other_oai_errors_stop_the_run_with_code_and_message(
    store: Store, fetcher: Fetcher, http_server: LocalServer
) -> None:
    http_server.route("/oai", lambda path, query: (200, oai_error("badArgument", "Illegal set cs"), "text/xml"))
    report = run_harvest(store, fetcher, f"{http_server.url}/oai")
    assert report.status == "failed"
    assert report.error and "badArgument" in report.error and "Illegal set cs" in report.error


def test_an_unknown_metadata_format_is_refused(store: Store, fetcher: Fetcher, http_server: LocalServer) -> None:
    items = arxiv_oai.harvest(fetcher, store, f"{http_server.url}/oai", metadata_prefix="oai_dc")
    report = ingest(store, items, arxiv_oai.NAME, "x")
    assert report.error and "oai_dc" in report.error
    assert http_server.requests == []


def test_checkpoint_keys_differ_by_parameters_and_fit_the_column() -> None:
    a = arxiv_oai.checkpoint_key("https://oaipmh.arxiv.org/oai", "arXivRaw", "2024-01-01", None, "cs")
    b = arxiv_oai.checkpoint_key("https://oaipmh.arxiv.org/oai", "arXivRaw", "2024-01-01", None, "math")
    c = arxiv_oai.checkpoint_key("https://oaipmh.arxiv.org/oai", "arXiv", "2024-01-01", None, "cs")
    assert len({a, b, c}) == 3
    long_key = arxiv_oai.checkpoint_key("https://x/" + "y" * 400, "arXivRaw", None, None, None)
    assert len(long_key) <= 255


# -- fuzzing the parser ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_response(shared_data: Path) -> bytes:
    head, spans = raw_spans(shared_data / "arxiv_oai" / "litpuvn_arXivRaw" / "ListRecords.xml")
    return (
        head + "\n".join(spans[:3]) + '<resumptionToken cursor="0">1|2</resumptionToken></ListRecords></OAI-PMH>'
    ).encode()


def _parse(body: bytes) -> list[Record | Skip]:
    reader = arxiv_oai.read_response(body, "fuzz")
    items: list[Record | Skip] = []
    while True:
        try:
            item = next(reader)
        except StopIteration as done:
            assert isinstance(done.value, arxiv_oai.Page)
            return items
        assert isinstance(item, Record | Skip)
        if isinstance(item, Record):
            assert item.paper.id and item.paper.title
        items.append(item)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    _parse(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_real_responses_never_raise(sample_response: bytes, data: st.DataObject) -> None:
    body = bytearray(sample_response)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(body)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        if op == "delete":
            del body[at : at + data.draw(st.integers(1, 50))]
        elif op == "insert":
            body[at:at] = data.draw(
                st.one_of(
                    st.binary(max_size=20), st.sampled_from([b"<", b">", b"&", b"</record>", b"<record>", b"\x00"])
                )
            )
        elif op == "replace" and at < len(body):
            body[at] = data.draw(st.integers(0, 255))
        else:
            del body[at:]
    _parse(bytes(body))
