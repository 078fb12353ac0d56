"""The Content-Security-Policy header: on every HTML page (cached or not, errors included), strict about scripts,
absent from JSON and feeds; and the site has no inline script for it to block. KaTeX, vendored by
scripts/vendor_katex.sh, is served by the site itself and loaded only on pages that show math."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from paperboy.store import Store
from paperboy.web.csp import POLICY
from tests.conftest import REPO
from tests.web.conftest import load_days, sign_in

Web = Callable[[], TestClient]
STATIC = REPO / "paperboy" / "web" / "static"
MATH_SCRIPTS = ["/static/katex/katex.min.js", "/static/katex/contrib/auto-render.min.js", "/static/math.js"]


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def scripts(html: str) -> list[str]:
    """The ``src`` of every script tag; an inline script (no ``src``) shows up as ``""``."""
    return [
        re.search(r'src="([^"]*)"', tag).group(1) if "src=" in tag else "" for tag in re.findall(r"<script[^>]*>", html)
    ]  # type: ignore[union-attr]


def test_the_policy_allows_only_the_sites_own_scripts() -> None:
    policy = directives(POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["default-src"] and "'unsafe-eval'" not in POLICY


def test_html_pages_carry_the_policy_and_no_inline_script(web: Web, store: Store, shared_data: Path) -> None:
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(date(2026, 8, 21), limit=1)[0].paper.id
    visitor, member = web(), web()
    user = sign_in(member, store, "reader@example.org")
    pages = ["/", "/papers/trending", "/papers/week/2026-W34", f"/papers/{pid}", "/search?q=agent", "/about",
             "/sign-in", "/submit", "/digest", "/no-such-page", f"/u/{user.handle}"]  # fmt: skip
    for client in (visitor, member):
        for path in pages:
            for _ in range(2):  # the second visit may come from the page cache: it must carry the header too
                response = client.get(path)
                if response.is_redirect:  # /submit sends visitors to sign in, /sign-in sends members home
                    continue
                assert response.headers["content-type"].startswith("text/html"), path
                assert response.headers.get("content-security-policy") == POLICY, path
                assert "" not in scripts(response.text), f"inline script on {path}"
                assert not re.search(r"<[^>]+\son[a-z]+\s*=", response.text), f"event handler attribute on {path}"
    assert "/static/vote.js" in scripts(member.get("/").text)


def test_json_and_feeds_do_not_carry_it(web: Web) -> None:
    client = web()
    for path in ("/api/daily_papers", "/healthz", "/feeds/daily.rss", "/static/style.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "content-security-policy" not in response.headers, path


def test_katex_is_loaded_only_where_math_is_shown(web: Web, store: Store, shared_data: Path) -> None:
    load_days(store, shared_data, "2026-08-21")
    pid = store.daily_list(date(2026, 8, 21), limit=1)[0].paper.id
    client = web()
    assert scripts(client.get(f"/papers/{pid}").text) == MATH_SCRIPTS
    assert '<link rel="stylesheet" href="/static/katex/katex.min.css">' in client.get(f"/papers/{pid}").text
    assert scripts(client.get("/search?q=agent").text) == MATH_SCRIPTS
    for path in ("/", "/papers/trending", "/about", "/digest"):
        assert scripts(client.get(path).text) == [], path
    for src in [*MATH_SCRIPTS, "/static/katex/katex.min.css", "/static/katex/fonts/KaTeX_Main-Regular.woff2"]:
        assert client.get(src).status_code == 200, src


def test_vendored_katex_matches_its_pinned_script() -> None:
    """The files in static/katex are the ones scripts/vendor_katex.sh pins: same version, license included, and
    every woff2 font the stylesheet names is present."""
    script = (REPO / "scripts" / "vendor_katex.sh").read_text(encoding="utf-8")
    version = re.search(r'^VERSION="([\d.]+)"$', script, re.M)
    assert version and re.search(r'^INTEGRITY="sha512-[A-Za-z0-9+/=]{88}"$', script, re.M)
    katex = STATIC / "katex"
    assert (katex / "VERSION").read_text().strip() == version.group(1)
    assert f'version:"{version.group(1)}"' in (katex / "katex.min.js").read_text(encoding="utf-8")
    assert "MIT License" in (katex / "LICENSE").read_text(encoding="utf-8")
    css = (katex / "katex.min.css").read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css))
    assert fonts and all((katex / font).is_file() for font in fonts)
