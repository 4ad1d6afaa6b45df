"""One error body everywhere (E01-E03): RFC 9457 problem details with our extension members.

Services raise `AppError` subclasses, never `HTTPException`; the handlers below turn every error
(domain, validation, HTTP and unexpected) into the same `application/problem+json` body.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemDetail(BaseModel):
    """The error body of every non-2xx response."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["Note 42 does not exist"])
    error: str = Field(description="Stable machine-readable code", examples=["not_found"])
    request_id: str | None = Field(default=None, examples=["0f8e3c1d9b2a4c5e8f7a6b5c4d3e2f1a"])
    timestamp: datetime
    path: str = Field(examples=["/api/v1/notes/42"])
    errors: list[FieldError] | None = None


# Documented on every API route so the OpenAPI schema describes the error body too (B05). Any
# route can answer 503: its database connection was lost (LostConnectionMiddleware, D02).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetail, "description": HTTPStatus(status).phrase}
    for status in (400, 404, 413, 415, 422, 429, 503)
}


def use_problem_media_type(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents every response model as application/json; errors are problem+json."""
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status[0] in "45" and "application/json" in content:
                content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema


class AppError(Exception):
    """Base of the domain errors; `context` is logged, never sent to the client."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        detail: str,
        *,
        context: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = dict(context or {})
        self.headers = dict(headers or {})


class NotFoundError(AppError):
    status_code = 404
    code = "not_found"


class ConflictError(AppError):
    status_code = 409
    code = "conflict"


class PermissionDeniedError(AppError):
    status_code = 403
    code = "permission_denied"


class DomainValidationError(AppError):
    status_code = 422
    code = "validation_failed"


class RateLimitedError(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests; retry after {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )


class UpstreamError(AppError):
    status_code = 502
    code = "upstream_error"


class ServiceUnavailableError(AppError):
    status_code = 503
    code = "service_unavailable"


# Stable codes: HTTP reason phrases change between Python versions (413 and 422 did in 3.13).
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def _code_for_status(status: int) -> str:
    if status in STATUS_CODES:
        return STATUS_CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def problem_body(
    scope: Scope,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: Sequence[FieldError] | None = None,
) -> dict[str, Any]:
    state = scope.get("state") or {}
    problem = ProblemDetail(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        error=code or _code_for_status(status),
        request_id=state.get("request_id"),
        timestamp=datetime.now(UTC),
        path=scope.get("path", ""),
        errors=list(errors) if errors is not None else None,
    )
    return problem.model_dump(mode="json", exclude_none=True)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(request.scope, status, detail, code=code, errors=errors),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer with a problem body from pure ASGI code (middleware), before any app code runs."""
    body = json.dumps(problem_body(scope, status, detail), separators=(",", ":")).encode()
    raw_headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def handle_app_error(request: Request, exc: AppError) -> JSONResponse:
    return problem_response(
        request, exc.status_code, exc.detail, code=exc.code, headers=exc.headers
    )


async def handle_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The offending input is never echoed back: it may be a password or a token.
    errors = [
        FieldError(loc=list(error.get("loc", ())), msg=error["msg"], type=error["type"])
        for error in exc.errors()
    ]
    return problem_response(
        request, 422, "The request is invalid", code="validation_failed", errors=errors
    )


async def handle_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


def register_error_handlers(app: FastAPI) -> None:
    app.exception_handler(AppError)(handle_app_error)
    app.exception_handler(RequestValidationError)(handle_validation_error)
    app.exception_handler(StarletteHTTPException)(handle_http_error)
