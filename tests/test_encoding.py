"""web/encoding.py: JSON bodies from orjson with the content the standard encoder gave, and
U+2028/U+2029 escaped."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timezone

from flask import jsonify
from markupsafe import Markup

from search_service.web import create_app
from search_service.web.encoding import FastJSONProvider, script_safe


@dataclasses.dataclass
class Point:
    x: int
    label: str


TRICKY = {
    "text": 'é \u2028 \u2029 </script> "quoted" \\ \x7f \x01\t\n 😀 …',
    "markup": Markup("<mark>oil</mark> &amp; gas"),
    "numbers": [0, -1, 2**63 - 1, 1.5, 0.1, 1e-05, 1e21, True, False, None],
    "nested": {"b": 1, "a": [{"z": []}, ()]},
    7: "an int key",
    "when": datetime(2026, 12, 2, 11, 41, tzinfo=timezone.utc),
    "day": date(2026, 12, 2),
    "id": uuid.UUID(int=7),
    "point": Point(1, "p"),
}


def standard(app, obj) -> str:
    """What Flask's own provider sends for `obj` (compact, the same key order)."""
    from flask.json.provider import DefaultJSONProvider

    provider = DefaultJSONProvider(app)
    provider.sort_keys = app.json.sort_keys
    return provider.dumps(obj, separators=(",", ":"))


def test_body_has_the_standard_content_in_utf8_with_line_separators_escaped(tmp_path):
    app = create_app({"INDEX_DIR": str(tmp_path)})
    assert isinstance(app.json, FastJSONProvider)
    with app.app_context():
        response = jsonify(TRICKY)
    body = response.get_data()
    assert response.mimetype == "application/json" and body.endswith(b"}\n")
    assert json.loads(body) == json.loads(standard(app, TRICKY))
    assert "\u2028".encode() not in body and "\u2029".encode() not in body
    assert b"\\u2028" in body and b"\\u2029" in body
    assert "é".encode() in body and "😀".encode() in body
    text = body.decode()
    assert text.index('"text"') < text.index('"markup"') < text.index('"7"')  # order kept


def test_what_orjson_refuses_goes_to_the_standard_encoder(tmp_path):
    app = create_app({"INDEX_DIR": str(tmp_path)})
    odd = {"big": 2**70, "lone": "\ud800", "line": "\u2028"}
    with app.app_context():
        body = jsonify(odd).get_data()
    assert json.loads(body) == odd
    assert "\u2028".encode() not in body


def test_sort_keys_and_debug_indent_as_flask(tmp_path):
    app = create_app({"INDEX_DIR": str(tmp_path)})
    app.json.sort_keys = True
    with app.app_context():
        assert jsonify({"b": 1, "a": "\u2029"}).get_data() == b'{"a":"\\u2029","b":1}\n'
    app.debug = True
    with app.app_context():
        assert jsonify({"b": 1}).get_data() == b'{\n  "b": 1\n}\n'
    assert app.json.dumps({"b": [1]}, indent=1) == '{\n "b": [\n  1\n ]\n}'


def test_script_safe_leaves_other_bytes_alone():
    assert script_safe("a\u2028b\u2029c é".encode()) == "a\\u2028b\\u2029c é".encode()
    assert script_safe(b'{"a":1}') == b'{"a":1}'


def test_api_search_body_decodes_to_the_standard_payload(client):
    response = client.get("/api/search?q=oil")
    data = json.loads(response.data)
    assert data["total"] == 2
    assert json.loads(standard(client.application, data)) == data
