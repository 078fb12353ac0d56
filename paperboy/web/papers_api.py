"""The paper endpoints of the JSON API, in Hugging Face's shapes: ``GET /api/papers/{id}`` (what
``HfApi.paper_info`` reads), ``GET /api/papers`` (every paper, cursor-paginated with a ``Link: rel="next"`` header
as the Hub paginates), and for API-token holders: submit, upvote and un-vote, and comments.

Write endpoints take only ``Authorization: Bearer`` tokens (made on /settings), never the session cookie: a cookie
rides along on cross-site requests, a bearer header does not, so these endpoints need no CSRF token.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from paperboy.domain import DailyEntry, Paper, parse_arxiv_id
from paperboy.store import ListedPaper, accounts, catalog, community
from paperboy.web import auth
from paperboy.web.api import bad_request, daily_item, hf_time
from paperboy.web.community_pages import submission
from paperboy.web.markup import MAX_COMMENT_CHARS
from paperboy.web.params import MAX_LIMIT, BadParameter, parse_count
from paperboy.web.site import site_of

DEFAULT_LIMIT = 50
MAX_ID = 64  # the store's id column


def paper_info(paper: Paper, entry: DailyEntry | None) -> dict[str, Any]:
    """A paper as the Hub's ``/api/papers/{id}`` gives it: the daily item's paper object, flat, plus
    ``numComments`` and ``discussionId``; ``submittedOnDailyAt``/``By`` only for papers that were listed."""
    listed = ListedPaper(paper, entry or DailyEntry(paper.id, datetime.now(UTC).date()))
    item = daily_item(listed)
    body: dict[str, Any] = dict(item["paper"])
    if entry is None:
        body.pop("submittedOnDailyAt", None)
        body.pop("submittedOnDailyBy", None)
    body["numComments"] = item["numComments"]
    body["discussionId"] = paper.id
    return body


def clean_id(paper_id: str) -> str | None:
    """The paper id to look up (a versioned arXiv id or an arXiv URL names the paper), or None for text that
    cannot be an id at all (too long, control characters), which then is simply not found."""
    if len(paper_id) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in paper_id):
        return None
    parsed = parse_arxiv_id(paper_id)
    found = parsed[0] if parsed else paper_id
    return found if len(found) <= MAX_ID else None


def not_found(paper_id: str) -> JSONResponse:
    return JSONResponse({"error": f"no paper with id {paper_id[:100]!r}"}, status_code=404)


def get_paper(request: Request, paper_id: str) -> JSONResponse:
    """One paper (hidden papers are not found). A versioned id (``2405.15738v2``) answers for the paper."""
    pid = clean_id(paper_id)
    found = catalog.paper_with_entry(site_of(request).store, pid) if pid else None
    if found is None:
        return not_found(paper_id)
    return JSONResponse(paper_info(*found))


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadParameter("cursor: not a cursor of this API; use the Link header of the previous page") from None
    if not text or len(text) > MAX_ID or any(ord(c) < 32 for c in text):
        raise BadParameter("cursor: not a cursor of this API; use the Link header of the previous page")
    return text


def list_papers(
    request: Request,
    cursor: Annotated[str | None, Query(description="Where to continue: from the previous page's Link header.")] = None,
    limit: Annotated[str | None, Query(description=f"Papers per page, 1 to {MAX_LIMIT} (default 50).")] = None,
) -> JSONResponse:
    """Every visible paper, newest arXiv ids first, one page at a time. The next page's URL is in the ``Link``
    header (``rel="next"``), as on the Hub; the last page has none."""
    try:
        size = parse_count("limit", limit, 1, MAX_LIMIT) if limit is not None else DEFAULT_LIMIT
        before = decode_cursor(cursor) if cursor is not None else None
    except BadParameter as exc:
        return bad_request(str(exc))
    page = catalog.papers_page(site_of(request).store, before, size)
    headers = {}
    if page.has_more and page.papers:
        following = request.url.include_query_params(cursor=encode_cursor(page.papers[-1][0].id), limit=size)
        headers["Link"] = f'<{following}>; rel="next"'
    return JSONResponse([paper_info(paper, entry) for paper, entry in page.papers], headers=headers)


# -- token holders ------------------------------------------------------------------------------------------------


def token_user(request: Request) -> accounts.User:
    """The holder of the request's API token; 401 without one (the session cookie does not count here)."""
    if auth.bearer_token(request) is None:
        raise HTTPException(
            401,
            "send an API token: Authorization: Bearer <token> (create one on /settings)",
            {"WWW-Authenticate": "Bearer"},
        )
    user = auth.require_user(request)
    if user.banned:
        raise HTTPException(403, "this account is banned")
    return user


class SubmitBody(BaseModel):
    id: str | None = Field(None, description="An arXiv id or link: 2405.15738, hep-th/9901001, arxiv.org/abs/...")
    paperId: str | None = Field(None, description="The same as id (the Hub's name).")


def submit(request: Request, body: Annotated[SubmitBody, Body()]) -> JSONResponse:
    """Put a paper on today's list as the token holder (metadata fetched from arXiv when the site lacks it)."""
    user = token_user(request)
    value = (body.id or body.paperId or "").strip()
    status, outcome = submission(request, user, value[:500])
    if status != 201:
        return JSONResponse({"error": outcome}, status_code=status)
    found = catalog.paper_with_entry(site_of(request).store, outcome)
    assert found is not None
    return JSONResponse(paper_info(*found), status_code=201)


def _visible(request: Request, paper_id: str) -> str:
    pid = clean_id(paper_id)
    if pid is None or not community.is_visible(site_of(request).store, pid):
        raise HTTPException(404, f"no paper with id {paper_id[:100]!r}")
    return pid


def _vote(request: Request, paper_id: str, up: bool) -> JSONResponse:
    user = token_user(request)
    pid = _visible(request, paper_id)
    auth.limit(request, "vote", str(user.id))
    site = site_of(request)
    if up:
        community.vote(site.store, user.id, pid, site.clock())
    else:
        community.unvote(site.store, user.id, pid, site.clock())
    return JSONResponse({"paper": pid, "upvotes": community.shown_upvotes(site.store, pid), "voted": up})


def upvote(request: Request, paper_id: str) -> JSONResponse:
    """Upvote as the token holder; voting twice counts once."""
    return _vote(request, paper_id, True)


def unvote(request: Request, paper_id: str) -> JSONResponse:
    """Take the token holder's upvote back (nothing happens if there was none)."""
    return _vote(request, paper_id, False)


def comment_item(comment: community.Comment) -> dict[str, Any]:
    """A comment as data: its Markdown source (clients render it; pages sanitize it), author and times."""
    return {
        "id": comment.id,
        "parentId": comment.parent_id,
        "author": {"name": comment.handle, "fullname": comment.author, "type": "user"},
        "body": "" if comment.deleted else comment.body,
        "deleted": comment.deleted,
        "createdAt": hf_time(comment.created_at),
        "editedAt": hf_time(comment.edited_at),
    }


def list_comments(request: Request, paper_id: str) -> JSONResponse:
    """The discussion of a paper, oldest first, each reply after its comment; hidden comments are left out."""
    pid = _visible(request, paper_id)
    found: list[dict[str, Any]] = []
    for comment in community.paper_comments(site_of(request).store, pid):
        for c in (comment, *comment.replies):
            if not c.hidden:
                found.append(comment_item(c))
    return JSONResponse({"comments": found})


class CommentBody(BaseModel):
    comment: str = Field(description=f"Markdown with $math$, at most {MAX_COMMENT_CHARS} characters.")
    parentId: int | None = Field(None, description="Reply to this comment of the same paper.")


def clean_comment(text: str) -> str:
    """The comment without control characters other than newline and tab (PostgreSQL refuses NUL in text)."""
    body = "".join(c for c in text.replace("\r\n", "\n") if c in "\n\t" or not (ord(c) < 32 or ord(c) == 127))
    return body.strip()


def add_comment(request: Request, paper_id: str, body: Annotated[CommentBody, Body()]) -> JSONResponse:
    """Comment on a paper (or reply to one of its comments) as the token holder."""
    user = token_user(request)
    pid = _visible(request, paper_id)
    text = clean_comment(body.comment)
    if not text:
        return bad_request("comment: the comment is empty")
    if len(text) > MAX_COMMENT_CHARS:
        return bad_request(f"comment: too long, at most {MAX_COMMENT_CHARS} characters")
    if body.parentId is not None and not 0 < body.parentId < 2**31:
        return bad_request("parentId: no such comment on this paper")
    auth.limit(request, "comment", str(user.id))
    site = site_of(request)
    comment_id = community.add_comment(site.store, pid, user.id, text, site.clock(), body.parentId)
    if comment_id is None:
        return bad_request("parentId: no such comment on this paper")
    created = community.get_comment(site.store, comment_id)
    assert created is not None
    return JSONResponse(comment_item(created), status_code=201)
