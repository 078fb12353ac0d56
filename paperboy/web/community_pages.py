"""Community actions: submit a paper, upvote and un-vote, comment, edit and delete comments, moderate.

Every action is a POST with a CSRF token, checked for the signed-in user and counted against a rate limit. The vote
form works without JavaScript (a redirect back); static/vote.js sends the same form with ``Accept:
application/json`` and updates the count in place.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from paperboy.domain import Paper, Skip, parse_arxiv_id
from paperboy.sources import arxiv_api
from paperboy.sources.base import SourceError
from paperboy.store import accounts, community
from paperboy.web import auth
from paperboy.web.markup import MAX_COMMENT_CHARS
from paperboy.web.pages import paper_url, render
from paperboy.web.site import site_of

log = logging.getLogger(__name__)

CsrfField = Annotated[str, Form(alias=auth.CSRF_FIELD)]
NextField = Annotated[str, Form(alias="next")]


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or request.url.path.startswith("/api/")


def signed_in_or_redirect(request: Request, back: str) -> accounts.User | Response:
    """The user; without one, a page sends the browser to sign in (and back), a script gets a 401."""
    user = auth.current_user(request)
    if user is not None:
        return user
    if wants_json(request) or auth.bearer_token(request):
        return JSONResponse({"error": "sign in first"}, status_code=401)
    return see_other(auth.sign_in_url(back))


# -- submit --------------------------------------------------------------------------------------------------------


def submit_page(request: Request) -> Response:
    return render(request, "submit.html", {"value": "", "problem": None})


def _submit_problem(request: Request, value: str, problem: str, status: int) -> Response:
    return render(request, "submit.html", {"value": value[:500], "problem": problem}, status)


def fetch_from_arxiv(request: Request, paper_id: str) -> Paper | str:
    """The paper's metadata from the configured arXiv API, or a message saying why there is none."""
    pb = site_of(request).pb
    fetcher = pb.fetcher()
    try:
        for item in arxiv_api.read_ids(fetcher, pb.settings.arxiv_api_url, [paper_id]):
            if isinstance(item, Skip):
                if "not found" in item.reason:
                    return f"arXiv has no paper {paper_id}: the id was never issued or the paper was removed."
                return f"arXiv did not give us {paper_id}: {item.reason}"
            if hasattr(item, "paper") and item.paper.id == paper_id:
                return item.paper
    except (SourceError, OSError) as exc:
        log.warning("arXiv lookup of %s failed: %s", paper_id, exc)
        return "arXiv did not answer just now. Please try again in a few minutes."
    finally:
        fetcher.close()
    return f"arXiv has no paper {paper_id}."


def submit(request: Request, csrf: CsrfField = "", paper: Annotated[str, Form()] = "") -> Response:
    """Put a paper on today's list (site time zone) by arXiv id or URL, as the signed-in user."""
    user = signed_in_or_redirect(request, "/submit")
    if not isinstance(user, accounts.User):
        return user
    auth.check_csrf(request, csrf)
    value = paper.strip()
    status, outcome = submission(request, user, value)
    if status != 201:
        return _submit_problem(request, value, outcome, status)
    return see_other(paper_url(outcome) + "?submitted=1")


def submission(request: Request, user: accounts.User, value: str) -> tuple[int, str]:
    """Submit ``value`` (an arXiv id or URL) for ``user``: ``(201, paper id)`` when it was added to today's list,
    else an HTTP status and the message to show. Shared by the submit form and ``POST /api/papers/submit``."""
    parsed = parse_arxiv_id(value) if value else None
    if parsed is None:
        problem = (
            f"“{value[:100]}” is not an arXiv id or link. Use an id like 2405.15738 or hep-th/9901001, "
            "or a link like https://arxiv.org/abs/2405.15738."
            if value
            else "Enter an arXiv id or link."
        )
        return 400, problem
    paper_id = parsed[0]
    auth.limit(request, "submit", str(user.id))
    site = site_of(request)
    found = community.known_paper(site.store, paper_id) or fetch_from_arxiv(request, paper_id)
    if isinstance(found, str):
        return (404 if "has no paper" in found else 502), found
    if found.comments and "withdrawn" in found.comments.lower():
        return 409, f"arXiv marks {paper_id} as withdrawn, so it cannot be listed."
    today = site.today()
    outcome = community.submit_paper(site.store, found, today, user.id, user.handle, site.clock())
    if outcome.status == "duplicate":
        return 409, f"{paper_id} is already on today's list ({today.isoformat()}). Upvote it there instead."
    return 201, paper_id


# -- votes ---------------------------------------------------------------------------------------------------------


def vote(
    request: Request,
    paper_id: str,
    csrf: CsrfField = "",
    up: Annotated[str, Form(alias="vote")] = "1",
    next_path: NextField = "",
) -> Response:
    """Upvote (``vote=1``) or take the vote back (``vote=0``): JSON for scripts, a redirect back for forms."""
    back = auth.safe_next(next_path, paper_url(paper_id))
    user = signed_in_or_redirect(request, back)
    if not isinstance(user, accounts.User):
        return user
    auth.check_csrf(request, csrf)
    site = site_of(request)
    if not community.is_visible(site.store, paper_id):
        raise HTTPException(404, f"No paper with id {paper_id} is on this site.")
    auth.limit(request, "vote", str(user.id))
    if up == "0":
        community.unvote(site.store, user.id, paper_id, site.clock())
    else:
        community.vote(site.store, user.id, paper_id, site.clock())
    if wants_json(request):
        upvotes = community.shown_upvotes(site.store, paper_id)
        return JSONResponse({"paper": paper_id, "upvotes": upvotes, "voted": up != "0"})
    return see_other(back)


# -- comments ------------------------------------------------------------------------------------------------------


def _comment_body(text: str) -> str:
    body = text.replace("\r\n", "\n").strip()
    if not body:
        raise HTTPException(400, "The comment is empty.")
    if len(body) > MAX_COMMENT_CHARS:
        raise HTTPException(400, f"The comment is too long: at most {MAX_COMMENT_CHARS} characters.")
    return body


def add_comment(
    request: Request,
    paper_id: str,
    csrf: CsrfField = "",
    body: Annotated[str, Form()] = "",
    parent: Annotated[str, Form()] = "",
) -> Response:
    user = signed_in_or_redirect(request, paper_url(paper_id) + "#discussion")
    if not isinstance(user, accounts.User):
        return user
    auth.check_csrf(request, csrf)
    site = site_of(request)
    if not community.is_visible(site.store, paper_id):
        raise HTTPException(404, f"No paper with id {paper_id} is on this site.")
    text = _comment_body(body)
    parent_id = int(parent) if parent.isdigit() else None
    auth.limit(request, "comment", str(user.id))
    comment_id = community.add_comment(site.store, paper_id, user.id, text, site.clock(), parent_id)
    if comment_id is None:
        raise HTTPException(400, "You can only reply to a comment on this paper.")
    return see_other(f"{paper_url(paper_id)}#comment-{comment_id}")


def _own_comment(request: Request, comment_id: int) -> tuple[accounts.User, community.Comment]:
    user = auth.require_user(request)
    comment = community.get_comment(site_of(request).store, comment_id)
    if comment is None or comment.deleted:
        raise HTTPException(404, "No such comment.")
    if comment.user_id != user.id:
        raise HTTPException(403, "You can only change your own comments.")
    return user, comment


def edit_comment_page(request: Request, comment_id: int) -> Response:
    user = auth.current_user(request)
    if user is None:
        return see_other(auth.sign_in_url(f"/comments/{comment_id}/edit"))
    _, comment = _own_comment(request, comment_id)
    return render(request, "comment_edit.html", {"comment": comment})


def edit_comment(
    request: Request, comment_id: int, csrf: CsrfField = "", body: Annotated[str, Form()] = ""
) -> Response:
    user, comment = _own_comment(request, comment_id)
    auth.check_csrf(request, csrf)
    text = _comment_body(body)
    auth.limit(request, "comment", str(user.id))
    site = site_of(request)
    community.edit_comment(site.store, comment_id, text, site.clock())
    return see_other(f"{paper_url(comment.paper_id)}#comment-{comment_id}")


def delete_comment(request: Request, comment_id: int, csrf: CsrfField = "") -> Response:
    _, comment = _own_comment(request, comment_id)
    auth.check_csrf(request, csrf)
    community.delete_comment(site_of(request).store, comment_id)
    return see_other(f"{paper_url(comment.paper_id)}#discussion")


# -- moderation ----------------------------------------------------------------------------------------------------


def hide_comment(
    request: Request, comment_id: int, csrf: CsrfField = "", hidden: Annotated[str, Form()] = "1"
) -> Response:
    auth.require_moderator(request)
    auth.check_csrf(request, csrf)
    site = site_of(request)
    comment = community.get_comment(site.store, comment_id)
    if comment is None:
        raise HTTPException(404, "No such comment.")
    community.set_comment_hidden(site.store, comment_id, hidden == "1")
    return see_other(f"{paper_url(comment.paper_id)}#comment-{comment_id}")


def hide_paper(request: Request, paper_id: str, csrf: CsrfField = "", hidden: Annotated[str, Form()] = "1") -> Response:
    auth.require_moderator(request)
    auth.check_csrf(request, csrf)
    site = site_of(request)
    if community.known_paper(site.store, paper_id) is None:
        raise HTTPException(404, f"No paper with id {paper_id} is on this site.")
    community.set_paper_hidden(site.store, paper_id, hidden == "1")
    return see_other(paper_url(paper_id))
