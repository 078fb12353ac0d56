"""Comments in Markdown with LaTeX math, and math in abstracts, turned into HTML that can never run.

Two independent guards: Markdown is parsed with raw HTML disabled (``<script>`` stays text), and the HTML it
produces is then cleaned by nh3 (the Ammonia sanitizer) with a short allow-list of tags, only http(s)/mailto links,
``rel="nofollow ugc noopener noreferrer"`` on every link, and no ``style`` or event attributes. Math (``$...$`` and
``$$...$$``) is kept as escaped TeX in ``<span class="math inline">`` / ``<div class="math block">``, which the page
shows as text and a client-side renderer may typeset; the TeX is never interpreted as HTML.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from mdit_py_plugins.dollarmath import dollarmath_plugin

MAX_COMMENT_CHARS = 10_000

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .use(dollarmath_plugin, allow_labels=False, allow_digits=False, double_inline=True)
    .enable(["strikethrough", "table"])
)

TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
CLASSES = {"span": {"math", "inline", "block"}, "div": {"math", "block"}}


def _inline_display_math(renderer, tokens, idx, options, env) -> str:  # type: ignore[no-untyped-def]
    """``$$...$$`` inside a paragraph: display style, but a span, so the paragraph stays one element."""
    return f'<span class="math block">{escape(tokens[idx].content)}</span>'


_markdown.add_render_rule("math_inline_double", _inline_display_math)


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow ugc noopener noreferrer",
        strip_comments=True,
    )


def render_comment(text: str) -> Markup:
    """A comment's Markdown as safe HTML."""
    return Markup(sanitize(_markdown.render(text)))


_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)", re.DOTALL)


def math_text(text: str) -> Markup:
    """Plain text (an abstract, a title) escaped, with its ``$...$``/``$$...$$`` marked as math for typesetting."""
    out: list[str] = []
    last = 0
    for match in _MATH.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        if match.group(1) is not None:
            out.append(f'<span class="math block">{escape(match.group(1))}</span>')
        else:
            out.append(f'<span class="math inline">{escape(match.group(2))}</span>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
