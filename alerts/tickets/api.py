"""HTTP JSON API for inspection tickets: read, filter, and move them through their life cycle.

Every change needs a bearer token, and the token says who acts (the audit trail and
first-responder ownership use that name, never a name from the request body). Reads may
be open by config. A refused move answers 409 with the reason; the OpenAPI description is
at /openapi.json and the interactive one at /docs.
"""

import dataclasses
import hmac
import logging
import os
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.database import DATABASE_AWAY, database_said
from alerts.findings import Severity
from alerts.notify.messages import grafana_link, units_of
from alerts.notify.outbox import retry_dead, wall_ms
from alerts.notify.settings import Links
from alerts.outcomes import Cause, Outcome
from alerts.taxonomy import Department
from alerts.tickets import page
from alerts.tickets.lifecycle import ACTIVE_STATES, Action, Refused, TicketState
from alerts.tickets.models import MAX_ID
from alerts.tickets.review import review_of
from alerts.tickets.store import TicketStore
from alerts.tickets.text import MAX_COMMENT, actor_problem, comment_problem
from alerts.tickets.view import TicketView
from alerts.zones import zone_of

log = logging.getLogger("yujing.api")

RETRY_AFTER_S = 5  # what a 503 asks a caller to wait while the ticket database is away

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it as input, not as a 500


class Role(IntEnum):
    """What a token may do; each role may do what the ones below it may."""

    VIEWER = 1  # read tickets
    OPERATOR = 2  # move tickets and comment: the NOC's people
    ADMIN = 3  # what changes how the monitor behaves: the outbox (retry dead deliveries)


@dataclass(frozen=True)
class TokenAuth:
    """Bearer tokens -> person and role; compared in constant time."""

    tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    anonymous_read: bool = False
    roles: dict[str, Role] = field(default_factory=dict)  # user -> role (default: operator)

    def role_of(self, user: str) -> Role:
        return self.roles.get(user, Role.OPERATOR)

    def user_of(self, token: str) -> str | None:
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return None

    @classmethod
    def parse(cls, text: str, anonymous_read: bool = False) -> "TokenAuth":
        """``user=token`` or ``user:role=token`` (viewer, operator, admin; operator when
        left out) separated by commas or lines; # starts a comment."""
        tokens: dict[str, str] = {}
        roles: dict[str, Role] = {}
        for raw in text.replace(",", "\n").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            who, sep, token = line.partition("=")
            user, _, role = who.strip().partition(":")
            if not sep or not user or len(token.strip()) < 16:
                raise ValueError(
                    f"bad token entry {who!r}: want user=token or user:role=token "
                    f"with a token of at least 16 characters"
                )
            wrong = actor_problem(user)  # the name the audit trail records for the token
            if wrong is not None:
                raise ValueError(f"bad user {user!r}: {wrong}")
            if role:
                try:
                    roles[user] = Role[role.strip().upper()]
                except KeyError:
                    raise ValueError(
                        f"bad role {role!r} for {user!r}: viewer, operator or admin"
                    ) from None
            tokens[token.strip()] = user
        return cls(tokens, anonymous_read, roles)

    @classmethod
    def from_env(
        cls, tokens_file: Path | None = None, anonymous_read: bool | None = None
    ) -> "TokenAuth":
        """A tokens file, else $YUJING_API_TOKENS_FILE, else $YUJING_API_TOKENS."""
        env = os.environ
        path = tokens_file or (
            Path(env["YUJING_API_TOKENS_FILE"]) if env.get("YUJING_API_TOKENS_FILE") else None
        )
        text = path.read_text() if path else env.get("YUJING_API_TOKENS", "")
        if anonymous_read is None:
            anonymous_read = env.get("YUJING_API_ANONYMOUS_READ", "").lower() in (
                "1",
                "true",
                "yes",
            )
        return cls.parse(text, anonymous_read)


def _ticket_fields() -> dict[str, Any]:
    """TicketView's fields as the API's schema: the one field list, typed for OpenAPI."""
    hints = get_type_hints(TicketView)
    typed: dict[str, Any] = {"state": TicketState, "severity": Severity}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(TicketView):
        default = ... if f.default is dataclasses.MISSING else f.default
        out[f.name] = (typed.get(f.name, hints[f.name]), default)
    out["first_hour"] = (int, Field(description="start of the first anomalous hour, epoch ms"))
    out["grafana_url"] = (str, Field(description="the region drill-down over the anomaly's hours"))
    return out


TicketOut = create_model("TicketOut", **_ticket_fields())


class AuditEntry(BaseModel):
    at: int
    actor: str
    action: str
    from_: str | None = Field(alias="from")
    to: str | None
    comment: str

    model_config = ConfigDict(populate_by_name=True)


class TicketDetail(TicketOut):  # type: ignore[misc, valid-type]
    events: list[AuditEntry]


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int
    limit: int
    offset: int


def clean_text(value: str) -> str:
    """Text as people meant it: NFC-normalised; a lone surrogate (valid JSON, not valid
    Unicode: no database can store it) is an input error, not a 500, and so is a control
    character a terminal would take as an instruction (``alerts.tickets.text``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("not valid Unicode text (a lone surrogate)") from exc
    problem = comment_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value)


class ActionIn(BaseModel):
    comment: Annotated[
        str, Field(default="", max_length=MAX_COMMENT, pattern=NO_NUL), AfterValidator(clean_text)
    ] = ""
    # resolve: what the ticket turned out to be (required), and a confirmed fault's cause
    outcome: Outcome | None = None
    cause: Cause | None = None

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    detail: str


class RetryOut(BaseModel):
    requeued: int
    by: str


class Conflict(BaseModel):
    detail: str
    action: str
    state: str


TicketId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
LIST_FILTER = "^(" + "|".join(page.LIST_FILTERS) + ")$"
UNAUTHORIZED = {401: {"model": Problem, "description": "missing or invalid bearer token"}}
NOT_FOUND = {404: {"model": Problem, "description": "no such ticket"}}


MAX_BODY_BYTES = 64 * 1024  # a comment is at most 4,000 characters


class BodyTooLarge(Exception):
    """A request body grew past the limit while it was being read."""


class GuardBodies:
    """ASGI middleware: a request with a body is refused before that body is read when it
    has no valid token (401) or is larger than MAX_BODY_BYTES (413): a body costs memory
    only to someone allowed to write, and never more than the limit."""

    def __init__(self, app: ASGIApp, auth: TokenAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.auth.user_of(token.strip()) is None:
            await _reply(
                send, 401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
            )
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _reply(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
            return
        seen = 0
        refused = False  # the body outgrew the limit: whatever the app answers, it is 413

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                refused = True
                raise BodyTooLarge
            return message

        async def answer(message: Message) -> None:
            if not refused:
                await send(message)
            elif message["type"] == "http.response.start":
                await _reply(send, 413, f"request body over {MAX_BODY_BYTES} bytes")

        try:
            await self.app(scope, limited, answer)
        except BodyTooLarge:  # the app let it through: nothing was answered yet
            await _reply(send, 413, f"request body over {MAX_BODY_BYTES} bytes")


async def _reply(send: Send, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_api(
    store: TicketStore,
    auth: TokenAuth,
    clock: Callable[[], int] = wall_ms,
    links: Links | None = None,
    timezone: str = "+00:00",
) -> FastAPI:
    """The ticket API, and the ticket page messages link to; ``timezone`` is the
    operator's, for the times the page shows."""
    app = FastAPI(
        title="Yujing tickets",
        version="1",
        description="Preemptive inspection tickets of the Yujing early-warning "
        "monitor. Changes need a bearer token; the token names the "
        "person who acts.",
        responses={
            503: {
                "model": Problem,
                "description": "the ticket database is unavailable; "
                "try again after Retry-After seconds",
            }
        },
    )
    bearer = HTTPBearer(auto_error=False)
    links = links or Links()
    app.add_middleware(GuardBodies, auth=auth)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 that says where and why, never echoing the input back (a 50 MB comment
        would come back as 50 MB)."""
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", ""))[:200],
                "type": e.get("type"),
            }
            for e in exc.errors()[:20]
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    async def database_away(_request: Request, exc: DBAPIError) -> JSONResponse:
        """503 and when to try again: a restarting or unreachable ticket database is waited
        out (a 500 told the caller the API was broken)."""
        log.error(
            "ticket database unavailable: answered 503",
            extra={"fields": {"error": database_said(exc)}},
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "the ticket database is unavailable; try again shortly"},
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    for away in DATABASE_AWAY:
        app.add_exception_handler(away, database_away)  # type: ignore[arg-type]

    def out(ticket: TicketView) -> dict[str, object]:
        return {
            **asdict(ticket),
            "grafana_url": grafana_link(
                links, ticket.region, ticket.first_hour, ticket.last_fired_hour
            ),
        }

    def person(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        user = None if credentials is None else auth.user_of(credentials.credentials)
        if user is None:
            raise HTTPException(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return user

    def reader(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str | None:
        return None if auth.anonymous_read else person(credentials)

    def allowed(need: Role) -> Callable[[str], str]:
        def check(user: Annotated[str, Depends(person)]) -> str:
            if auth.role_of(user) < need:
                raise HTTPException(
                    403,
                    f"{user} is a {auth.role_of(user).name.lower()}; this needs "
                    f"{need.name.lower()}",
                )
            return user

        return check

    operator, admin = allowed(Role.OPERATOR), allowed(Role.ADMIN)

    def found(ticket_id: int) -> TicketView:
        ticket = store.get(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return ticket

    @app.post(
        "/api/v1/outbox/retry",
        response_model=RetryOut,
        responses={**UNAUTHORIZED, 403: {"model": Problem, "description": "admins only"}},
    )
    def retry_outbox(
        who: Annotated[str, Depends(admin)],
        channel: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    ) -> RetryOut:
        """Queue dead deliveries again, after an endpoint or its credentials were fixed."""
        return RetryOut(requeued=retry_dead(store.engine, channel), by=who)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/tickets/page.js", include_in_schema=False)
    def page_script() -> Response:
        return Response(page.SCRIPT, media_type="text/javascript", headers=page.SECURITY_HEADERS)

    @app.get("/tickets/page.css", include_in_schema=False)
    def page_style() -> Response:
        return Response(page.STYLE, media_type="text/css", headers=page.SECURITY_HEADERS)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        """Whoever opens the server's address finds the tickets, not a 404."""
        return RedirectResponse("/tickets")

    @app.get("/tickets", include_in_schema=False)
    def tickets_page() -> HTMLResponse:
        """The NOC's queue as a page: the tickets people work, each linked to its page."""
        return HTMLResponse(page.list_shell(), headers=page.SECURITY_HEADERS)

    @app.get(page.LIST_SRC, response_class=HTMLResponse, responses=UNAUTHORIZED)
    def tickets_fragment(
        _who: Annotated[str | None, Depends(reader)],
        state: Annotated[str, Query(pattern=LIST_FILTER)] = "active",
        region: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> HTMLResponse:
        """Tickets newest first as HTML, for the tickets' page: ``active`` (the ones people
        work), ``all``, or one state; of one region (what a region's dashboard links to)."""
        states = {"active": [s.value for s in ACTIVE_STATES], "all": None}.get(state, [state])
        items, total = store.find(region=region, states=states, limit=limit)
        shown = [t.to_json() | {"timezone": timezone} for t in items]
        return HTMLResponse(
            page.list_fragment(shown, total, state, timezone, region),
            headers=page.SECURITY_HEADERS,
        )

    @app.get("/tickets/{ticket_id}", include_in_schema=False)
    def ticket_page(ticket_id: TicketId) -> HTMLResponse:
        """What a message's "Ticket" link opens: a page, not a 401."""
        return HTMLResponse(page.shell(ticket_id), headers=page.SECURITY_HEADERS)

    @app.get(
        "/api/v1/tickets/{ticket_id}/page",
        response_class=HTMLResponse,
        responses={**UNAUTHORIZED, **NOT_FOUND},
    )
    def ticket_fragment(
        ticket_id: TicketId,
        _who: Annotated[str | None, Depends(reader)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> HTMLResponse:
        """One ticket and its audit trail as HTML, for the ticket page; with the moves
        its state allows, unless the reader's token may only read."""
        ticket = found(ticket_id)
        shown = ticket.to_json() | {"timezone": timezone, "grafana_url": out(ticket)["grafana_url"]}
        shown |= units_of(shown, store.notifications)
        user = None if credentials is None else auth.user_of(credentials.credentials)
        may_act = user is None or auth.role_of(user) >= Role.OPERATOR  # none yet: it may
        return HTMLResponse(
            page.fragment(shown, store.events(ticket_id), may_act), headers=page.SECURITY_HEADERS
        )

    @app.get(
        "/api/v1/reports/monthly",
        responses={**UNAUTHORIZED, 422: {"model": Problem, "description": "not a month"}},
    )
    def monthly_report(
        _who: Annotated[str | None, Depends(reader)],
        month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
        regions: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> dict[str, Any]:
        """The monthly review's figures (SLA compliance, recurrence, alert quality) of the
        tickets first fired in ``month``, in the operator's zone, judged now."""
        try:
            return review_of(store, month, zone_of(timezone), clock(), regions)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get("/api/v1/tickets", response_model=TicketPage, responses=UNAUTHORIZED)
    def list_tickets(
        _who: Annotated[str | None, Depends(reader)],
        region: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
        department: Department | None = None,
        state: TicketState | None = None,
        severity: Annotated[Severity | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> TicketPage:
        """Tickets, newest first, filtered by region, department, state and severity."""
        items, total = store.find(
            region=region,
            department=department.value if department else None,
            states=[state.value] if state else None,
            severity=severity,
            limit=limit,
            offset=offset,
        )
        return TicketPage(
            items=[TicketOut(**out(t)) for t in items], total=total, limit=limit, offset=offset
        )

    @app.get(
        "/api/v1/tickets/{ticket_id}",
        response_model=TicketDetail,
        responses={**UNAUTHORIZED, **NOT_FOUND},
    )
    def get_ticket(
        ticket_id: TicketId, _who: Annotated[str | None, Depends(reader)]
    ) -> TicketDetail:
        """One ticket with its audit trail (who did what, when, with which comment)."""
        ticket = found(ticket_id)
        return TicketDetail(
            **out(ticket), events=[AuditEntry.model_validate(e) for e in store.events(ticket_id)]
        )

    @app.post(
        "/api/v1/tickets/{ticket_id}/{action}",
        response_model=TicketOut,
        responses={
            **UNAUTHORIZED,
            **NOT_FOUND,
            409: {"model": Conflict, "description": "the move is not allowed"},
        },
    )
    def act(
        ticket_id: TicketId,
        action: Action,
        who: Annotated[str, Depends(operator)],
        body: ActionIn | None = None,
    ) -> TicketOut | JSONResponse:
        """Acknowledge (you become the owner), start, comment, resolve, close or reopen."""
        result = store.transition(
            ticket_id,
            action.value,
            who,
            body.comment if body else "",
            clock(),
            body.outcome.value if body and body.outcome else None,
            body.cause.value if body and body.cause else None,
        )
        if isinstance(result, Refused):
            if result.state == "missing":
                raise HTTPException(404, result.reason)
            return JSONResponse(
                status_code=409,
                content={
                    "detail": result.reason,
                    "action": result.action.value,
                    "state": result.state,
                },
            )
        return TicketOut(**out(result))

    return app
