"""`helix serve`: the HTTP front of the system (FastAPI, served by uvicorn on loopback only).

    GET  /         a small self-contained web page (no CDN) to ask and see answer, route, validity
    GET  /health   liveness and which brains are loaded
    GET  /status   the run's training status table as JSON (stall flags included)
    POST /ask      {"text", "to"?, "check"?, "raw"?} or {"requests": [{"text", "to"?}, ...], "check"?}
    POST /convert  {"text", "src"?, "dst"}: exact conversion by the language core

Errors are JSON ``{"error": {"code", "message", ...}}``: 400 for HLX errors (code and position),
unroutable requests and a ``Host`` that is not loopback, 404 for an unknown path, 405 for a wrong
method, 413 for a body over the limit, 422 for a malformed body (not JSON, not UTF-8, wrong
fields), 500 for anything unexpected (never a traceback), 503 when a brain the request needs is
not trained. Models are loaded once, when the app starts.

Only loopback ``Host`` names are answered (``127.0.0.1``/any ``127.x.x.x``, ``localhost``,
``[::1]``, each with or without a port), so a page elsewhere cannot reach the server through DNS
rebinding; ``/openapi.json`` and ``/docs`` are off unless ``create_app(openapi=True)``.
"""

# (no `from __future__ import annotations`: FastAPI must see the request models defined in create_app)

import ipaddress
import json
import socket
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from helix.ml.tokenizer import BRAINS
from helix.system.ask import MAX_TEXT_CHARS, System, get_system
from helix.system.router import ALL_FORMS, RouteError, normalize_format

DEFAULT_MAX_BODY = 64 * 1024
DEFAULT_MAX_BATCH = 32


class BodyLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with 413 (by Content-Length, and while reading a
    body that declares none)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers") or []:
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    return await _send_json(send, 400, _err("E_REQUEST", "bad Content-Length header"))
                if n > self.max_bytes:
                    return await _send_json(send, 413, _too_large(n, self.max_bytes))
        # Read the body here (bounded), then hand it on: the app never sees an oversized one.
        chunks, seen = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # client went away
                return
            chunk = msg.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                return await _send_json(send, 413, _too_large(seen, self.max_bytes))
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def host_is_loopback(host: str | None) -> bool:
    """Whether an HTTP ``Host`` header names this machine's loopback (port allowed)."""
    if not host:
        return False
    h = host.strip().lower()
    if h.startswith("["):  # [::1] or [::1]:8000
        end = h.find("]")
        if end < 0:
            return False
        name, rest = h[1:end], h[end + 1:]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return False
        try:
            return ipaddress.IPv6Address(name).is_loopback
        except ValueError:
            return False
    name, sep, port = h.partition(":")
    if sep and not port.isdigit():
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False


class LoopbackHostMiddleware:
    """Answer only requests whose ``Host`` is loopback (400 in the app's error format)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = None
        for k, v in scope.get("headers") or []:
            if k == b"host":
                host = v.decode("latin-1")
                break
        if not host_is_loopback(host):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            shown = (host or "")[:100].encode("ascii", "backslashreplace").decode()
            return await _send_json(send, 400, _err(
                "E_HOST", f"Host {shown!r} is not a loopback name: helix serve answers only "
                          "127.0.0.1, localhost and [::1]"))
        return await self.app(scope, receive, send)


def _err(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def _too_large(n: int, limit: int) -> dict:
    return _err("E_REQUEST_TOO_LARGE", f"request body of {n} bytes is over the limit of {limit} bytes")


async def _send_json(send, status: int, obj: dict) -> None:
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def page_html() -> str:
    return resources.files("helix.system").joinpath("web/index.html").read_text(encoding="utf-8")


def create_app(
    system: System | None = None,
    *,
    run_dir: str | Path | None = None,
    device: str = "cpu",
    max_body: int = DEFAULT_MAX_BODY,
    max_text: int = MAX_TEXT_CHARS,
    max_batch: int = DEFAULT_MAX_BATCH,
    preload: bool = True,
    openapi: bool = False,
):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from helix.hlx import HLXError

    if system is None:
        if run_dir is None:
            raise ValueError("create_app needs a System or a run directory")
        system = get_system(run_dir, device)
    sysobj = system
    load_state: dict[str, str] = {}

    @asynccontextmanager
    async def lifespan(app):
        if preload:
            load_state.update(sysobj.load_all())
        yield

    app = FastAPI(title="Helix", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if openapi else None, redoc_url=None,
                  openapi_url="/openapi.json" if openapi else None)
    app.state.system = sysobj

    class AskItem(BaseModel):
        text: str = Field(..., min_length=1, max_length=max_text)
        to: str | None = Field(None, max_length=32)

    class AskBody(BaseModel):
        text: str | None = Field(None, min_length=1, max_length=max_text)
        to: str | None = Field(None, max_length=32)
        check: bool = False
        raw: bool = False  # the routed expert's answer alone (no candidates, no vote)
        requests: list[AskItem] | None = Field(None, max_length=max_batch)

    class ConvertBody(BaseModel):
        text: str = Field(..., min_length=1, max_length=max_text)
        src: str | None = Field(None, max_length=32)
        dst: str = Field(..., max_length=32)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc or 'body'}: {e.get('msg')}")
        msg = "; ".join(parts) or "malformed request"
        return JSONResponse(_err("E_REQUEST", _printable(msg)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "E_HTTP")
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the body cannot be parsed (JSON in UTF-8 expected)"
        elif exc.status_code == 404:
            detail = f"no such path {request.url.path[:200]!r}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path[:200]!r}"
        return JSONResponse(_err(code, _printable(detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(HLXError)
    async def _hlx_error(request: Request, exc: HLXError):
        return JSONResponse({"error": exc.to_dict()}, status_code=400)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        return JSONResponse(_err("E_INTERNAL", f"internal error ({type(exc).__name__})"),
                            status_code=500)

    @app.exception_handler(RouteError)
    async def _route_error(request: Request, exc: RouteError):
        return JSONResponse(_err("E_ROUTE", str(exc)), status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page_html())

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "run": str(sysobj.run_dir) if sysobj.run_dir else None,
            "brains": {b: ("loaded" if b in sysobj.loaded else load_state.get(b, "not loaded"))
                       for b in BRAINS},
            "device": sysobj.device,
        }

    @app.get("/status")
    def status() -> Any:
        from helix.system.status import read_run, stall_threshold

        if sysobj.run_dir is None:
            return JSONResponse(_err("E_NO_RUN", "this server has no run directory"), status_code=404)
        states = read_run(sysobj.run_dir, stall_after_s=stall_threshold())
        return {
            "run": str(sysobj.run_dir),
            "brains": [{"brain": s.brain, **s.status, "age_s": s.age_s, "stalled": s.stalled,
                        "warning": s.warning} for s in states],
        }

    @app.get("/formats")
    def formats() -> dict:
        return {"formats": list(ALL_FORMS)}

    def _answer_response(answers, batch: bool):
        out = [a.to_dict() for a in answers]
        missing = [a for a in answers if a.error and a.error.get("code") == "E_NO_MODEL"]
        if missing and len(missing) == len(answers):
            return JSONResponse(_err("E_NO_MODEL", missing[0].error["message"]), status_code=503)
        return {"answers": out} if batch else out[0]

    @app.post("/ask")
    def ask(body: AskBody) -> Any:
        if body.requests is not None:
            if body.text is not None:
                raise RouteError("give either text or requests, not both")
            if not body.requests:
                raise RouteError("requests is empty")
            items = [(r.text, _fmt(r.to)) for r in body.requests]
            return _answer_response(sysobj.ask_many(items, check=body.check, raw=body.raw), True)
        if body.text is None:
            raise RouteError("missing text: {\"text\": \"Represent true\", \"to\": \"lc_r\"}")
        return _answer_response(sysobj.ask_many([(body.text, _fmt(body.to))], check=body.check, raw=body.raw), False)

    @app.post("/convert")
    def convert(body: ConvertBody) -> Any:
        from helix.hlx import HLXError

        src = _fmt(body.src)
        dst = _fmt(body.dst)
        try:
            result, src = sysobj.convert(body.text, src, dst)
        except HLXError as e:
            return JSONResponse({"error": e.to_dict()}, status_code=400)
        return {"result": result, "src": src, "dst": dst}

    return app


_HTTP_CODES = {400: "E_REQUEST", 404: "E_NOT_FOUND", 405: "E_METHOD_NOT_ALLOWED",
               413: "E_REQUEST_TOO_LARGE", 415: "E_REQUEST", 422: "E_REQUEST"}


def _printable(s: str) -> str:
    """``s`` with anything that is not valid Unicode escaped (a JSON answer must encode)."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _fmt(name: str | None) -> str | None:
    if name is None or name == "" or name == "auto":
        return None
    return normalize_format(name)


def check_loopback(host: str) -> None:
    """Only loopback addresses may be served (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            raise ValueError(f"cannot resolve host {host!r}") from None
        if infos and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos):
            return
        raise ValueError(f"{host!r} is not a loopback address: helix serve listens on loopback only") from None
    if not ip.is_loopback:
        raise ValueError(f"{host} is not a loopback address: helix serve listens on loopback only (127.0.0.1, ::1)")


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, device: str = "cpu",
          max_body: int = DEFAULT_MAX_BODY, log_level: str = "info") -> None:
    import uvicorn

    check_loopback(host)
    uvicorn.run(asgi_app(run_dir=run_dir, device=device, max_body=max_body), host=host, port=port,
                log_level=log_level)


def asgi_app(system: System | None = None, *, max_body: int = DEFAULT_MAX_BODY, **kw):
    """The app behind the loopback-Host check and the body-size limit (what `serve` runs; tests
    use it with ``TestClient(app, base_url="http://127.0.0.1")``)."""
    return LoopbackHostMiddleware(BodyLimitMiddleware(create_app(system, max_body=max_body, **kw),
                                                      max_body))
