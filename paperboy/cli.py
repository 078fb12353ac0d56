"""The `paperboy` command: one Typer app for every operator task.

Exit status of `paperboy ingest`: 0 every record landed, 3 partial (some records skipped, see the report),
1 the run failed (the rest of the input was not read; what landed before stays).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from paperboy.app import Paperboy
from paperboy.settings import Settings, settings_markdown
from paperboy.sources.base import Item, RunReport, ingest
from paperboy.sources.child import read_source

EXIT_PARTIAL = 3
app = typer.Typer(help="paperboy: a self-hostable Daily Papers service.", no_args_is_help=True)
ingest_app = typer.Typer(help="Load papers from a source into the store.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
err = Console(stderr=True, soft_wrap=True)  # report lines (file paths) must not wrap

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Overrides PAPERBOY_DATABASE_URL.", show_default=False)
]


def _paperboy(database_url: str | None = None) -> Paperboy:
    try:
        settings = Settings.load(database_url=database_url)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return Paperboy(settings)


def _ready(pb: Paperboy) -> Paperboy:
    """Migrate on first use, so `paperboy ingest` works on a fresh data directory too."""
    if not pb.store.is_current():
        pb.store.migrate()
    return pb


@app.command()
def init(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Create the database, or upgrade it to the newest schema."""
    pb = _paperboy(database_url)
    revision = pb.store.migrate()
    if as_json:
        print(json.dumps({"database": pb.store.engine.url.render_as_string(), "revision": revision}))
    else:
        err.print(f"database ready at {pb.store.engine.url.render_as_string()} (schema {revision})")


class BytesRead:
    """Where a file source is in its file, so the progress bar can show bytes of the total."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total


def run_ingest(
    pb: Paperboy, items: Iterable[Item], source: str, location: str, as_json: bool, bytes_read: BytesRead | None = None
) -> None:
    """Ingest with a live progress bar (on stderr) and print the report; exit 3 when partial, 1 when failed."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[position]}"),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task(f"{source}", total=None, counts="", position="")

        def show_position(seen: int) -> None:
            if bytes_read is not None and bytes_read.total:
                mb_done, mb_total = bytes_read.done / 1e6, bytes_read.total / 1e6
                progress.update(
                    task,
                    total=bytes_read.total,
                    completed=bytes_read.done,
                    position=f"{mb_done:,.0f}/{mb_total:,.0f} MB, {seen:,} records",
                )
            else:
                progress.update(task, position=f"{seen:,} records")

        def counted(stream: Iterable[Item]) -> Iterator[Item]:
            for n, item in enumerate(stream, 1):
                if n % 1000 == 0:
                    show_position(n)
                yield item

        def on_progress(report: RunReport) -> None:
            show_position(report.seen)
            progress.update(
                task, counts=f"new {report.new:,} updated {report.updated:,} skipped {len(report.skipped):,}"
            )

        report = ingest(
            _ready(pb).store,
            counted(items),
            source,
            location,
            batch_size=pb.settings.ingest_batch_size,
            on_progress=on_progress,
        )
    _print_report(report, as_json)
    if report.status == "failed":
        raise typer.Exit(1)
    if report.status == "partial":
        raise typer.Exit(EXIT_PARTIAL)


def _print_report(report: RunReport, as_json: bool) -> None:
    data = report.as_dict()
    if as_json:
        print(json.dumps(data))
        return
    table = Table(title=f"ingest {report.source}: {report.location}", show_header=False)
    for key in ("status", "seen", "new", "updated", "unchanged"):
        table.add_row(key, str(data[key]))
    table.add_row("skipped", str(len(report.skipped)))
    Console().print(table)
    for skip in report.skipped[:20]:
        err.print(f"[yellow]skipped[/yellow] {escape(skip.where)}: {escape(skip.reason)}")
    if len(report.skipped) > 20:
        err.print(f"... and {len(report.skipped) - 20} more (use --json for the full list)")
    if report.error:
        err.print(f"[red]error:[/red] {report.error}")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date; use YYYY-MM-DD") from None


@ingest_app.command("hf-daily")
def ingest_hf_daily(
    path: Annotated[Path | None, typer.Argument(help="A folder of YYYY-MM-DD.json responses, or one file.")] = None,
    since: Annotated[str | None, typer.Option(help="Fetch live from this day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Fetch live up to this day (default: since).")] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hugging Face Daily Papers: archived API responses, or the live API for a date range."""
    from paperboy.sources import hf_daily

    pb = _paperboy(database_url)
    if path is not None:
        items = read_source(hf_daily.read_path, path, child_min_bytes=pb.settings.ingest_child_min_bytes)
        run_ingest(pb, items, hf_daily.NAME, str(path), as_json)
    elif since is not None:
        start = _parse_date(since)
        end = _parse_date(until) if until else start
        fetcher = pb.fetcher()
        try:
            items = hf_daily.read_live(fetcher, pb.settings.hf_api_url, start, end)
            run_ingest(pb, items, hf_daily.NAME, f"{pb.settings.hf_api_url} {start}..{end}", as_json)
        finally:
            fetcher.close()
    else:
        raise typer.BadParameter("give a PATH to archived responses, or --since DATE to fetch live")


@ingest_app.command("arxiv-api")
def ingest_arxiv_api(
    ids: Annotated[list[str] | None, typer.Option("--id", help="An arXiv id (repeatable); versions allowed.")] = None,
    query: Annotated[str | None, typer.Option(help="An arXiv search query, e.g. 'cat:cs.CL AND ti:agent'.")] = None,
    max_results: Annotated[int, typer.Option(help="Stop a query after this many entries.")] = 100,
    page_size: Annotated[int, typer.Option(help="Entries per API request.")] = 100,
    files: Annotated[list[Path] | None, typer.Option("--file", help="A saved Atom response (repeatable).")] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The arXiv export API (Atom): papers by id list or by search query, or saved responses."""
    from paperboy.sources import arxiv_api

    pb = _paperboy(database_url)
    if files:
        run_ingest(pb, arxiv_api.read_files(files), arxiv_api.NAME, ", ".join(map(str, files)), as_json)
        return
    if not ids and not query:
        raise typer.BadParameter("give --id ID (repeatable), --query QUERY or --file FILE")
    fetcher = pb.fetcher()
    base = pb.settings.arxiv_api_url
    try:
        if ids:
            items = arxiv_api.read_ids(fetcher, base, ids, page_size=page_size)
            run_ingest(pb, items, arxiv_api.NAME, f"{base} id_list={','.join(ids)}", as_json)
        else:
            items = arxiv_api.read_query(fetcher, base, query or "", max_results=max_results, page_size=page_size)
            run_ingest(pb, items, arxiv_api.NAME, f"{base} search_query={query}", as_json)
    finally:
        fetcher.close()


@ingest_app.command("arxiv-oai")
def ingest_arxiv_oai(
    metadata_prefix: Annotated[str, typer.Option("--format", help="arXivRaw or arXiv.")] = "arXivRaw",
    from_: Annotated[
        str | None, typer.Option("--from", help="Harvest records changed on or after (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Harvest records changed on or before (YYYY-MM-DD).")] = None,
    set_: Annotated[str | None, typer.Option("--set", help="An OAI set, e.g. cs or physics:hep-th.")] = None,
    restart: Annotated[bool, typer.Option(help="Forget a saved checkpoint and start over.")] = False,
    files: Annotated[list[Path] | None, typer.Option("--file", help="A saved OAI-PMH response (repeatable).")] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """arXiv OAI-PMH ListRecords (arXiv or arXivRaw format), resuming an interrupted harvest where it stopped."""
    from paperboy.sources import arxiv_oai

    pb = _paperboy(database_url)
    if files:
        run_ingest(pb, arxiv_oai.read_files(files), arxiv_oai.NAME, ", ".join(map(str, files)), as_json)
        return
    for value in (from_, until):
        if value:
            _parse_date(value)
    fetcher = pb.fetcher()
    base = pb.settings.arxiv_oai_url
    try:
        items = arxiv_oai.harvest(
            fetcher,
            _ready(pb).store,
            base,
            metadata_prefix=metadata_prefix,
            from_=from_,
            until=until,
            set_=set_,
            restart=restart,
        )
        location = f"{base} {metadata_prefix} from={from_} until={until} set={set_}"
        run_ingest(pb, items, arxiv_oai.NAME, location, as_json)
    finally:
        fetcher.close()


@ingest_app.command("kaggle")
def ingest_kaggle(
    path: Annotated[Path, typer.Argument(help="arxiv-metadata-oai-snapshot.json (JSON lines; .gz allowed).")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The Kaggle arXiv metadata snapshot, streamed in constant memory."""
    from paperboy.sources import kaggle

    pb = _paperboy(database_url)
    bytes_read = BytesRead()
    items = read_source(kaggle.read_path, path, bytes_read, pb.settings.ingest_child_min_bytes)
    run_ingest(pb, items, kaggle.NAME, str(path), as_json, bytes_read)


@ingest_app.command("jsonl")
def ingest_jsonl(
    path: Annotated[Path, typer.Argument(help="A paperboy JSONL export, or any {id,title,abstract} lines.")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """paperboy's own JSONL format (what `paperboy export` writes); any corpus with id, title and abstract."""
    from paperboy.sources import jsonl

    pb = _paperboy(database_url)
    bytes_read = BytesRead()
    items = read_source(jsonl.read_path, path, bytes_read, pb.settings.ingest_child_min_bytes)
    run_ingest(pb, items, jsonl.NAME, str(path), as_json, bytes_read)


SAMPLE = Path(__file__).parent / "sample" / "hf-daily-sample.jsonl.gz"


@ingest_app.command("sample")
def ingest_sample(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """The bundled real sample: the most recent days of the Hugging Face Daily Papers archive (2,000+ papers)."""
    from paperboy.sources import jsonl

    pb = _paperboy(database_url)
    run_ingest(pb, jsonl.read_path(SAMPLE), "sample", str(SAMPLE), as_json)


@app.command()
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Only jsonl for now.")] = "jsonl",
    database_url: DatabaseOption = None,
) -> None:
    """Write every paper with its daily entries as JSON lines, the format `paperboy ingest jsonl` reads."""
    from paperboy.export import write_jsonl

    if fmt != "jsonl":
        raise typer.BadParameter(f"unknown format {fmt!r}; the only format is jsonl")
    pb = _ready(_paperboy(database_url))
    if output is None:
        count = write_jsonl(pb.store, sys.stdout)
    else:
        with output.open("w", encoding="utf-8") as out:
            count = write_jsonl(pb.store, out)
    err.print(f"exported {count} papers")


@app.command()
def stats(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Counts of papers, daily entries and days in the store."""
    pb = _ready(_paperboy(database_url))
    data: dict[str, Any] = pb.store.stats()
    if as_json:
        print(json.dumps(data))
        return
    table = Table(show_header=False)
    for key, value in data.items():
        table.add_row(key, str(value))
    Console().print(table)


@app.command("settings")
def show_settings(
    markdown: Annotated[bool, typer.Option(help="Print the Markdown reference.")] = False,
) -> None:
    """Every setting with its current value (or the Markdown reference with --markdown)."""
    if markdown:
        sys.stdout.write(settings_markdown())
        return
    settings = Settings.load()
    for name, value in settings.values.items():
        print(f"{name} = {value}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (PAPERBOY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (PAPERBOY_PORT).")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Serve the web site and JSON API."""
    import uvicorn

    from paperboy.web.app import create_app

    pb = _ready(_paperboy(database_url))
    bind_host = host or pb.settings.host
    bind_port = port or pb.settings.port
    err.print(f"paperboy serving {pb.store.stats()['papers']} papers on http://{bind_host}:{bind_port}")
    from paperboy import jobs

    jobs.start_in_background(pb)  # the single-process mode: digests are planned and sent by this process
    if pb.settings.embed_in_background:
        pb.search.ensure_background()  # new papers get embeddings while the site serves; requests never wait
    uvicorn.run(create_app(pb), host=bind_host, port=bind_port, log_level="warning")


# -- email digests -------------------------------------------------------------------------------------------------

subscribers_app = typer.Typer(help="Digest subscribers: import, list counts, unsubscribe.", no_args_is_help=True)
digest_app = typer.Typer(
    help="Email digests: run a period, show a run's counts, resend failures.", no_args_is_help=True
)
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(digest_app, name="digest")
PeriodOption = Annotated[str, typer.Option("--period", help="daily or weekly.")]


@subscribers_app.command("import")
def subscribers_import(
    path: Annotated[Path, typer.Argument(help="CSV with a header: email[,frequency,keywords,categories,authors].")],
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="The list is already opted in: no confirmation mails.")
    ] = False,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import subscribers. Without --confirmed each new address gets a confirmation mail (double opt-in).
    keywords/categories/authors hold several values separated by `;`. Exit 3 when some rows were skipped."""
    from paperboy.digest import subscriptions
    from paperboy.web.digest_routes import send_confirmation

    pb = _ready(_paperboy(database_url))
    try:
        report = subscriptions.import_csv(pb, path, confirmed)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    mailed = 0
    for sub in report.pending:
        try:
            send_confirmation(pb, sub)
            mailed += 1
        except Exception as exc:
            err.print(f"[yellow]confirmation to {sub.email} failed:[/yellow] {exc}")
    data = report.as_dict() | {"confirmation_mails": mailed}
    if as_json:
        print(json.dumps(data))
    else:
        err.print(f"added {report.added}, updated {report.updated}, skipped {len(report.skipped)}, mailed {mailed}")
        for skip in report.skipped[:20]:
            err.print(f"[yellow]skipped[/yellow] {escape(skip.where)}: {escape(skip.reason)}")
    if report.skipped:
        raise typer.Exit(EXIT_PARTIAL)


@subscribers_app.command("count")
def subscribers_count(database_url: DatabaseOption = None) -> None:
    """Subscribers per status (pending, confirmed, unsubscribed) and suppressed addresses, as JSON."""
    from paperboy.store import digests

    print(json.dumps(digests.subscriber_counts(_ready(_paperboy(database_url)).store)))


@subscribers_app.command("unsubscribe")
def subscribers_unsubscribe(email: str, database_url: DatabaseOption = None) -> None:
    """Unsubscribe an address by hand (e.g. a reply asking to stop)."""
    from paperboy.digest import subscriptions

    pb = _ready(_paperboy(database_url))
    sub = subscriptions.by_email(pb, email)
    if sub is None:
        err.print(f"[red]error:[/red] {email} is not subscribed")
        raise typer.Exit(1)
    subscriptions.unsubscribe(pb, sub)
    err.print(f"{sub.email} unsubscribed")


@digest_app.command("run")
def digest_run(
    period: PeriodOption = "daily",
    day: Annotated[
        str | None, typer.Option("--date", help="A day of the period (default: the newest complete).")
    ] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan and send one period's digests now. Safe to kill and start again at any moment: nothing is sent twice.
    Exit 3 when some digests failed (see `paperboy digest status`)."""
    from paperboy.digest.periods import KINDS
    from paperboy.digest.run import run_digest

    if period not in KINDS:
        raise typer.BadParameter(f"--period {period!r}: use daily or weekly")
    pb = _ready(_paperboy(database_url))
    result = run_digest(pb, period, _parse_date(day) if day else None)
    data = result.as_dict()
    if as_json:
        print(json.dumps(data))
    else:
        err.print(
            f"digest {period} {data['key']}: planned {data['planned']}, sent {data['sent']}, "
            f"failed {data['failed']}, pending {data['pending']}, skipped {data['skipped']}"
        )
    if data["failed"]:
        raise typer.Exit(EXIT_PARTIAL)


@digest_app.command("status")
def digest_status(
    run: Annotated[int | None, typer.Option("--run", help="A run id (default: the latest run).")] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """A run's counts: planned, sent, failed, pending (incl. awaiting retry), skipped."""
    from paperboy.digest.run import status

    pb = _ready(_paperboy(database_url))
    data = status(pb, run)
    if data is None:
        data = {"run": None, "planned": 0, "sent": 0, "failed": 0, "pending": 0, "skipped": 0}
    if as_json:
        print(json.dumps(data))
        return
    table = Table(show_header=False)
    for key, value in data.items():
        table.add_row(key, str(value))
    Console().print(table)


@digest_app.command("resend")
def digest_resend(
    run: Annotated[int, typer.Option("--run", help="The run whose failed digests to send again.")],
    unsuppress: Annotated[bool, typer.Option(help="Also lift the hard-bounce suppression of those addresses.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Send a run's failed digests again, and only those (same Message-IDs)."""
    from paperboy.digest.run import resend_failed

    pb = _ready(_paperboy(database_url))
    count, report = resend_failed(pb, run, unsuppress)
    print(json.dumps({"reset": count} | report.as_dict()))


@app.command()
def worker(
    database_url: DatabaseOption = None,
    interval: Annotated[float, typer.Option(help="Seconds between scheduler ticks.")] = 30.0,
    once: Annotated[bool, typer.Option(help="One tick, then exit (for cron).")] = False,
) -> None:
    """Scheduled work (plan digest periods once, send due digests) for machines other than the web node."""
    import signal
    import threading

    from paperboy import jobs

    pb = _ready(_paperboy(database_url))
    if once:
        jobs.tick(pb)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    err.print(f"paperboy worker: ticking every {interval:.0f} s (Ctrl-C to stop)")
    try:
        jobs.run_forever(pb, stop, interval)
    except KeyboardInterrupt:
        stop.set()


user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("role")
def user_role(
    email: Annotated[str, typer.Argument(help="The address the user signs in with.")],
    role: Annotated[str, typer.Argument(help="member, moderator or admin.")],
    database_url: DatabaseOption = None,
) -> None:
    """Give a user a role: moderators hide papers and comments and ban users; admins also ban moderators."""
    from paperboy.store import accounts

    if role not in accounts.ROLES:
        raise typer.BadParameter(f"unknown role {role!r}; use one of {', '.join(accounts.ROLES)}")
    pb = _ready(_paperboy(database_url))
    user = accounts.set_role(pb.store, email, role)
    if user is None:
        err.print(f"no user with address {email}: they must sign in once first")
        raise typer.Exit(1)
    err.print(f"{user.email} ({user.handle}) is now {user.role}")


# -- search ----------------------------------------------------------------------------------------------------------


@app.command("index")
def index_command(
    rebuild: Annotated[bool, typer.Option(help="Rebuild the indexes from the store instead of updating them.")] = False,
    embed: Annotated[bool, typer.Option(help="Embed papers that have no current vector (--no-embed: skip).")] = True,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring search up to date: BM25 index from the change log, embeddings for new papers, the ANN index.

    Embedding runs in committed batches: Ctrl-C (or a crash) loses at most one batch, and the next run resumes."""
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    pb = _ready(_paperboy(database_url))
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    try:
        with progress:
            task = progress.add_task("embedding", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = pb.search.update_index(rebuild=rebuild, embed=embed, on_progress=on_progress)
    except KeyboardInterrupt:
        err.print(f"interrupted; committed batches are kept ({pb.search.status(fresh=True)}): run again to resume")
        raise typer.Exit(130) from None
    status = report.status
    if as_json:
        data = {
            "lexical": {
                "indexed": report.lexical_indexed,
                "removed": report.lexical_removed,
                "rebuilt": report.rebuilt,
            },
            "embedded": report.embedded,
            "vectors_loaded": report.vectors_read,
            "semantic": {"embedded": status.embedded, "total": status.total},
        }
        print(json.dumps(data))
        return
    what = "rebuilt" if report.rebuilt else "updated"
    err.print(f"lexical index {what}: {report.lexical_indexed:,} papers indexed, {report.lexical_removed:,} removed")
    err.print(f"embedded {report.embedded:,} papers; {status}")


def _search_json(result: Any) -> dict[str, Any]:
    paper = result.paper
    return {
        "id": paper.id,
        "score": round(result.score, 6),
        "title": paper.title,
        "authors": paper.authors,
        "publishedAt": paper.published_at.isoformat() if paper.published_at else None,
        "highlightedTitle": result.highlighted_title,
        "highlightedSummary": result.highlighted_summary,
    }


def _search_batch(pb: Paperboy, path: Path, limit: int, fmt: str, semantic: bool) -> None:
    """BEIR queries ({"_id", "text"} per line) in, TREC run lines (or JSON lines) out; bad lines are reported."""
    from paperboy.index.query import QueryError

    skipped = 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] cannot read {path}: {exc}")
        raise typer.Exit(1) from None
    out = sys.stdout
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            qid, text = str(data["_id"]), data["text"]
            if not isinstance(text, str) or not qid.strip() or any(c.isspace() for c in qid):
                raise ValueError("_id must be a word and text a string")
            page = pb.search.search(text, limit=limit, semantic=semantic)
        except (ValueError, KeyError, TypeError, QueryError) as exc:
            skipped += 1
            err.print(f"[yellow]skipped[/yellow] {escape(str(path))}:{number}: {escape(str(exc))}")
            continue
        if fmt == "trec":
            for rank, result in enumerate(page.results, 1):
                out.write(f"{qid} Q0 {result.paper.id} {rank} {result.score:.6f} paperboy\n")
        else:
            out.write(json.dumps({"_id": qid, "results": [_search_json(r) for r in page.results]}) + "\n")
    if skipped:
        raise typer.Exit(EXIT_PARTIAL)


@app.command("search")
def search_command(
    query: Annotated[
        str | None, typer.Argument(help='The query: words, "phrases", -exclude, author:, cat:, since:, until:.')
    ] = None,
    limit: Annotated[int, typer.Option(help="Results to show (per query with --batch).", min=1, max=10_000)] = 10,
    batch: Annotated[Path | None, typer.Option(help='A JSONL file of BEIR queries {"_id", "text"}.')] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, or trec (for --batch; trec is its default).")] = "",
    lexical: Annotated[bool, typer.Option("--lexical", help="BM25 only, no embeddings.")] = False,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search the papers (hybrid BM25 + embeddings); `--batch FILE --format trec` writes a TREC run."""
    from paperboy.index.query import QueryError

    fmt = fmt or ("json" if as_json else "trec" if batch else "text")
    if fmt not in ("text", "json", "trec"):
        raise typer.BadParameter(f"unknown format {fmt!r}; use text, json or trec")
    if (query is None) == (batch is None):
        raise typer.BadParameter("give a QUERY, or --batch QUERIES.jsonl")
    pb = _ready(_paperboy(database_url))
    pb.search.refresh(wait=True)
    if not lexical:
        pb.search.refresh_vectors()
    if batch is not None:
        _search_batch(pb, batch, limit, "trec" if fmt == "text" else fmt, semantic=not lexical)
        return
    assert query is not None
    try:
        page = pb.search.search(query, limit=limit, semantic=not lexical, with_status=True)
    except QueryError as exc:
        err.print(f"[red]bad query:[/red] {exc}")
        raise typer.Exit(2) from None
    status = page.status
    if fmt == "json":
        semantic = {"embedded": status.embedded, "total": status.total} if status else None
        results = [_search_json(r) for r in page.results]
        print(json.dumps({"query": query, "semantic": page.semantic, "semantic_index": semantic, "results": results}))
        return
    if fmt == "trec":
        for rank, result in enumerate(page.results, 1):
            print(f"query Q0 {result.paper.id} {rank} {result.score:.6f} paperboy")
        return
    table = Table(title=f"search: {query}")
    for column in ("#", "id", "score", "title"):
        table.add_column(column)
    for rank, result in enumerate(page.results, 1):
        table.add_row(str(rank), result.paper.id, f"{result.score:.3f}", result.paper.title)
    Console().print(table)
    if status is not None and not status.complete:
        err.print(f"{status}: papers not embedded yet are found by their words only (run `paperboy index`)")


@app.command("similar")
def similar_command(
    paper_id: Annotated[str, typer.Argument(help="A paper id, e.g. 2405.15738.")],
    limit: Annotated[int, typer.Option(help="How many neighbours.", min=1, max=100)] = 10,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Papers most like this one (embedding neighbours; by title words when it has no vector yet)."""
    pb = _ready(_paperboy(database_url))
    if pb.store.get_paper(paper_id) is None:
        err.print(f"no paper with id {paper_id}")
        raise typer.Exit(1)
    results = pb.search.similar(paper_id, limit)
    if as_json:
        print(json.dumps({"id": paper_id, "similar": [_search_json(r) for r in results]}))
        return
    table = Table(title=f"papers similar to {paper_id}")
    for column in ("#", "id", "score", "title"):
        table.add_column(column)
    for rank, result in enumerate(results, 1):
        table.add_row(str(rank), result.paper.id, f"{result.score:.3f}", result.paper.title)
    Console().print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
