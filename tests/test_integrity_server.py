"""Issue 18, class 5 for ``helix serve``: only loopback Host names are answered (DNS rebinding),
no /openapi.json or /docs by default, and body-parsing errors, 404, 405 and 500 come in the
server's own ``{"error": ...}`` format."""

from __future__ import annotations

import pytest

from fastapi.testclient import TestClient  # noqa: E402

from helix.system.server import asgi_app, host_is_loopback  # noqa: E402
from test_system_support import scripted_system  # noqa: E402


@pytest.fixture
def client():
    with TestClient(asgi_app(scripted_system()), base_url="http://127.0.0.1:8000") as c:
        yield c


def error_of(r) -> dict:
    assert r.headers["content-type"].startswith("application/json"), r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"].startswith("E_"), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost", "LOCALHOST:80",
                                  "[::1]", "[::1]:8000", "127.0.0.2:9"])
def test_loopback_host_names_are_answered(client, host):
    r = client.get("/health", headers={"host": host})
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "0.0.0.0:8000", "192.168.1.5",
                                  "[::]", "[::1]x", "localhost:http", "", "testserver"])
def test_other_host_names_are_refused_in_the_error_format(client, host):
    for method, path in (("get", "/status"), ("get", "/health"), ("get", "/"),
                         ("post", "/ask")):
        kw = {"json": {"text": "[TRUE]", "to": "lc_r"}} if method == "post" else {}
        r = getattr(client, method)(path, headers={"host": host}, **kw)
        assert r.status_code == 400
        assert error_of(r)["code"] == "E_HOST"


def test_host_is_loopback_unit():
    assert host_is_loopback("127.0.0.1:8000") and host_is_loopback("[::1]")
    assert not host_is_loopback(None) and not host_is_loopback("[::1")
    assert not host_is_loopback("127.0.0.1:80:80")


def test_no_openapi_or_docs_by_default(client):
    for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        r = client.get(path)
        assert r.status_code == 404 and error_of(r)["code"] == "E_NOT_FOUND"
    with TestClient(asgi_app(scripted_system(), openapi=True), base_url="http://localhost") as c:
        assert c.get("/openapi.json").status_code == 200


def test_404_and_405_in_the_error_format(client):
    r = client.get("/no/such/path")
    assert r.status_code == 404 and error_of(r)["code"] == "E_NOT_FOUND"
    r = client.delete("/ask")
    assert r.status_code == 405 and error_of(r)["code"] == "E_METHOD_NOT_ALLOWED"
    assert "POST" in r.headers.get("allow", "")
    r = client.get("/convert")
    assert r.status_code == 405 and error_of(r)["code"] == "E_METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("body, ctype", [
    (b"{not json", "application/json"),
    (b'{"text": "caf\xc3"}', "application/json"),  # not UTF-8
    (b'{"text": "caf\\udcc3", "to": "lc_r"}', "application/json"),  # a lone surrogate escape
    (b"[1, 2]", "application/json"),
    (b"text=hi", "application/x-www-form-urlencoded"),
    (b'{"text": "hi"}', "text/plain"),
    (b"", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
])
def test_body_parsing_errors_in_the_error_format(client, body, ctype):
    for path in ("/ask", "/convert"):
        r = client.post(path, content=body, headers={"content-type": ctype})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        error_of(r)


def test_a_lone_surrogate_in_convert_is_a_coded_error(client):
    r = client.post("/convert", content=b'{"text": "\\"caf\\udcc3\\"", "dst": "hlx"}',
                    headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)
    error_of(r)


def test_an_unexpected_failure_is_a_500_in_the_error_format():
    sysobj = scripted_system()

    def boom(*a, **k):
        raise RuntimeError("secret internal detail")

    sysobj.ask_many = boom
    with TestClient(asgi_app(sysobj), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as c:
        r = c.post("/ask", json={"text": "Represent true"})
    assert r.status_code == 500
    err = error_of(r)
    assert err["code"] == "E_INTERNAL" and "secret" not in err["message"]
