"""Math in a real browser: the vendored KaTeX typesets ``$...$`` in an abstract and ``$$...$$`` in a comment, and
TeX that tries to smuggle in a link or markup stays inert (no dialog ever opens), under the site's
Content-Security-Policy, which the page must not violate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from paperboy.sources import hf_daily
from paperboy.sources.base import ingest
from paperboy.store import Store, accounts, community
from tests.web.conftest import archive_file, original_items

HREF = r"\href{javascript:alert(1)}{click}"
IMG = "<img src=x onerror=alert(1)>"
ABSTRACT = rf"We show that $E=mc^2$ holds. Links: ${HREF}$ and markup: ${IMG}$ stay text."
COMMENT = "The area is\n\n$$\n\\int_0^1 x\\,dx\n$$\n\nand $" + HREF + "$ is not a link, nor is $" + IMG + "$."


def plant_math_paper(store: Store, shared_data: Path, tmp_path: Path) -> str:
    """A real archived item whose abstract now holds math and hostile TeX, ingested by the hf-daily source."""
    item = original_items(archive_file(shared_data, "2026-08-21"))[0]
    item["paper"]["summary"] = item["summary"] = ABSTRACT
    path = tmp_path / "2026-08-21.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    report = ingest(store, hf_daily.read_path(path), hf_daily.NAME, str(path))
    assert report.skipped == []
    pid: str = item["paper"]["id"]
    user = accounts.get_or_create_user(store, "mathematician@example.org", datetime.now(UTC))
    community.add_comment(store, pid, user.id, COMMENT, datetime.now(UTC))
    return pid


def watch(page: Any) -> dict[str, list[str]]:
    """Dialogs (an alert would mean script ran), page errors, and CSP violations reported on the console."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": [], "csp": []}

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on(
        "console",
        lambda msg: seen["csp"].append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return seen


def test_katex_typesets_math_and_hostile_tex_stays_inert(
    chromium: Any, site: str, store: Store, shared_data: Path, tmp_path: Path
) -> None:
    pid = plant_math_paper(store, shared_data, tmp_path)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = watch(page)
    response = page.goto(f"{site}/papers/{pid}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".abstract .katex")

    # $E=mc^2$ in the abstract is typeset inline; its TeX source is kept as MathML annotation, not as markup.
    first = page.locator(".abstract .math").first
    assert first.locator(".katex").count() == 1 and first.locator(".katex-display").count() == 0
    assert first.locator("annotation").text_content() == "E=mc^2"
    # $$...$$ in the comment is typeset as display math.
    display = page.locator("#discussion .math .katex-display")
    display.first.wait_for()
    assert (display.first.locator("annotation").text_content() or "").strip() == r"\int_0^1 x\,dx"

    # \href is refused (trust: false): no link anywhere in the math, the command shows as an error in red text.
    for scope in (".abstract", "#discussion"):
        assert page.locator(f"{scope} .math a").count() == 0
        assert page.locator(f"{scope} .math img").count() == 0
        assert r"\href" in page.locator(f"{scope} .math").nth(1).inner_text()
        assert "img" in page.locator(f"{scope} .math").nth(2).inner_text()
    assert page.locator("img").count() == 0
    # Clicking what \href would have made a link does nothing either.
    page.locator(".abstract .math").nth(1).click()
    page.wait_for_timeout(200)
    assert page.url == f"{site}/papers/{pid}"

    # Search snippets keep the abstract's raw $...$ (highlighted by <mark>): KaTeX's auto-render typesets them.
    paper = store.get_paper(pid)
    assert paper is not None
    page.goto(f"{site}/search?q={quote(paper.title)}")
    snippet = page.locator(f".card:has(a[href='/papers/{pid}']) .result-summary")
    snippet.locator(".katex").first.wait_for()
    assert snippet.locator(".katex annotation").first.text_content() == "E=mc^2"
    assert snippet.locator("a, img").count() == 0

    assert seen == {"dialogs": [], "errors": [], "csp": []}
    context.close()


def test_pages_without_math_do_not_load_katex(chromium: Any, site: str) -> None:
    context = chromium.new_context()
    page = context.new_page()
    seen = watch(page)
    page.goto(f"{site}/")
    assert page.locator("script[src*=katex]").count() == 0
    assert page.evaluate("typeof window.katex") == "undefined"
    assert seen == {"dialogs": [], "errors": [], "csp": []}
    context.close()
