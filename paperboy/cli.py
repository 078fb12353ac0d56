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

EXIT_PARTIAL = 3
app = typer.Typer(help="paperboy: a self-hostable Daily Papers service.", no_args_is_help=True)
ingest_app = typer.Typer(help="Load papers from a source into the store.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
err = Console(stderr=True)

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
        err.print(f"[yellow]skipped[/yellow] {skip.where}: {skip.reason}")
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
        run_ingest(pb, hf_daily.read_path(path), hf_daily.NAME, str(path), as_json)
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
    run_ingest(pb, kaggle.read_path(path, bytes_read), kaggle.NAME, str(path), as_json, bytes_read)


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
    run_ingest(pb, jsonl.read_path(path, bytes_read), jsonl.NAME, str(path), as_json, bytes_read)


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
    uvicorn.run(create_app(pb), host=bind_host, port=bind_port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
