"""`helix serve` endpoints and limits (FastAPI TestClient, scripted brains)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("helix.hlx")
from fastapi.testclient import TestClient  # noqa: E402

from helix.system.server import asgi_app, check_loopback  # noqa: E402
from helix.util import atomic_write_json, utc_now_iso  # noqa: E402
from test_system_support import scripted_system  # noqa: E402

LOOPBACK = "http://127.0.0.1:8000"  # the server answers only loopback Host names


@pytest.fixture
def client():
    with TestClient(asgi_app(scripted_system(), max_body=4096, max_text=500, max_batch=4),
                    base_url=LOOPBACK) as c:
        yield c


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["brains"] == {"coordinator": "loaded", "ascii": "loaded", "runic": "loaded"}


def test_ask(client):
    r = client.post("/ask", json={"text": "Represent true in runic"})
    assert r.status_code == 200
    a = r.json()
    assert a["text"] == "⊤" and a["ok"] and a["valid"]
    assert a["route"]["expert"] == "runic" and a["route"]["tgt_fmt"] == "lc_r" and a["route"]["reason"]
    assert a["route_agrees"] is True
    r = client.post("/ask", json={"text": "Represent true", "to": "LC-T", "check": True})
    assert r.json()["text"] == "[TRUE]" and r.json()["check"]["agree"] is True


def test_ask_batch(client):
    r = client.post("/ask", json={"requests": [{"text": "Represent true", "to": "lc_t"},
                                               {"text": "[TRUE]", "to": "lc_r"}]})
    assert r.status_code == 200
    assert [a["text"] for a in r.json()["answers"]] == ["[TRUE]", "⊤"]
    r = client.post("/ask", json={"requests": [{"text": "x"}] * 5})
    assert r.status_code == 422 and r.json()["error"]["code"] == "E_REQUEST"


def test_ask_errors_are_clear_4xx(client):
    r = client.post("/ask", json={"text": "Represent true", "to": "klingon"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "E_ROUTE"
    assert "unknown target format" in r.json()["error"]["message"]
    r = client.post("/ask", json={})
    assert r.status_code == 400 and "missing text" in r.json()["error"]["message"]
    r = client.post("/ask", json={"text": ""})
    assert r.status_code == 422 and r.json()["error"]["code"] == "E_REQUEST"
    r = client.post("/ask", json={"text": "a" * 501})
    assert r.status_code == 422 and "text" in r.json()["error"]["message"]
    r = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/ask", json={"text": 42})
    assert r.status_code == 422


def test_body_size_limit(client):
    big = json.dumps({"text": "a" * 5000}).encode()
    r = client.post("/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "E_REQUEST_TOO_LARGE"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b"x" * 1000

    r = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_convert(client):
    r = client.post("/convert", json={"text": "[ARR_START, INT(1), INT(2), ARR_END]", "dst": "lc_r"})
    assert r.status_code == 200 and r.json() == {"result": "🜃1, 2🜄", "src": "lc_t", "dst": "lc_r"}
    r = client.post("/convert", json={"text": "[0x012a]", "src": "lc_b", "dst": "hlx"})
    assert r.json()["result"] == "42"
    r = client.post("/convert", json={"text": "[0x01ff]", "src": "lc_b", "dst": "hlx"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"].startswith("E_") and "offset" in err  # HLX error with its position
    r = client.post("/convert", json={"text": "{x: 1", "src": "hlxl", "dst": "hlx"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "E_SYNTAX_ERROR"
    r = client.post("/convert", json={"text": "Represent true", "dst": "hlx"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "E_ROUTE"
    r = client.post("/convert", json={"text": "true", "dst": "nope"})
    assert r.status_code == 400


def test_page_is_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    for needle in ('id="text"', 'id="to"', 'id="ask"', 'id="answer"', 'id="route"', 'id="validity"',
                   'value="lc_r"', "fetch(\"/ask\""):
        assert needle in page, needle
    assert "http://" not in page and "https://" not in page and "<script src" not in page


def test_status_endpoint(tmp_path):
    run = tmp_path / "run"
    atomic_write_json(run / "ascii" / "status.json", {"time": utc_now_iso(), "brain": "ascii", "status": "training"})
    s = scripted_system()
    s.run_dir = run
    with TestClient(asgi_app(s), base_url=LOOPBACK) as c:
        r = c.get("/status")
    assert r.status_code == 200
    b = r.json()["brains"]
    assert b[0]["brain"] == "ascii" and b[0]["status"] == "training" and b[0]["stalled"] is False


def test_missing_models_give_503():
    from helix.system.ask import System

    with TestClient(asgi_app(System(None)), base_url=LOOPBACK) as c:
        r = c.post("/ask", json={"text": "Represent true", "to": "lc_r"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "E_NO_MODEL"
        r = c.post("/ask", json={"text": "[TRUE]", "to": "lc_r"})  # the language core needs no model
        assert r.status_code == 200 and r.json()["text"] == "⊤"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_allowed(host):
    check_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "10.0.0.1", "::", "8.8.8.8"])
def test_other_hosts_are_refused(host):
    with pytest.raises(ValueError, match="loopback"):
        check_loopback(host)


def test_cli_serve_refuses_a_public_host():
    from typer.testing import CliRunner

    from helix.cli import app

    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "loopback" in r.output
