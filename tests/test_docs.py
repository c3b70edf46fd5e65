"""SPEC §10 docs: /openapi.json is valid OpenAPI 3.1 generated from the route table (exactly the
registered routes, with request/response schemas, roles and the error envelope); DOCS_FILTERED,
NO_DOCS and the branding variables; /docs served offline and rendered by a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from gated.routes import all_routes
from tests.support import browser
from tests.support.gated import mock_config

ARTIFACTS = Path(__file__).parent.parent / "artifacts"


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    from tests.support.gated import Gated
    instance = Gated(tmp_path_factory.mktemp("docs"), mock_config()).start()
    yield httpx.get(instance.url + "/openapi.json").json()
    instance.stop()


def test_document_is_valid_openapi_31(document):
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_document_lists_exactly_the_registered_routes(document):
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    assert documented == {(r.path, r.method) for r in all_routes()}


def test_operations_have_schemas_roles_and_errors(document):
    generate = document["paths"]["/key/generate"]["post"]
    body = generate["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/KeyGenerate"}
    assert "max_budget" in document["components"]["schemas"]["KeyGenerate"]["properties"]
    assert generate["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorEnvelope")
    assert generate["security"] == [{"bearer": []}] and "team admins" in generate["description"]
    assert "security" not in document["paths"]["/health/liveliness"]["get"]
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert {"400", "401", "429", "502", "504"} <= set(chat["responses"])
    info = document["paths"]["/key/info"]["get"]["parameters"]
    assert info[0]["name"] == "key" and info[0]["required"] is True
    assert document["paths"]["/audit/{id}"]["get"]["parameters"][0]["in"] == "path"


def test_filtered_no_docs_and_branding(gated):
    filtered = gated(mock_config(), env={"DOCS_FILTERED": "True", "DOCS_TITLE": "TotalGPT",
                                         "DOCS_DESCRIPTION": "Sample Company Description"})
    document = httpx.get(filtered.url + "/openapi.json").json()
    assert {r.path for r in all_routes() if r.openai} == set(document["paths"])
    assert document["info"]["title"] == "TotalGPT" and document["info"]["description"] == "Sample Company Description"
    assert "<title>TotalGPT</title>" in httpx.get(filtered.url + "/docs").text
    for value in ("1", "yes", "TRUE"):
        off = gated(mock_config(), env={"NO_DOCS": value})
        for path in ("/docs", "/openapi.json", "/docs/static/swagger-ui.css"):
            response = httpx.get(off.url + path)
            assert response.status_code == 404 and response.json()["error"]["code"] == "unsupported_route"
        off.stop()


def test_static_assets_are_served_locally(gated):
    instance = gated(mock_config())
    css = httpx.get(instance.url + "/docs/static/swagger-ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert httpx.get(instance.url + "/docs/static/../../config.py").status_code == 404
    assert httpx.get(instance.url + "/docs/static/swagger-editor.js").status_code == 404


def test_swagger_ui_renders_in_chromium(gated):
    instance = gated(mock_config(), env={"DOCS_TITLE": "TotalGPT"})
    rendered = browser.dom(instance.url + "/docs")
    assert "TotalGPT" in rendered and 'class="swagger-ui' in rendered
    assert "/v1/chat/completions" in rendered and "/key/generate" in rendered
    browser.screenshot(instance.url + "/docs", ARTIFACTS / "docs.png")


def test_flags_read_true_1_yes_in_any_case_and_nothing_else(gated):
    everything = {r.path for r in all_routes()}
    for value, filtered in (("yes", True), ("1", True), ("no", False), ("0", False), ("false", False)):
        instance = gated(mock_config(), env={"DOCS_FILTERED": value, "NO_DOCS": "off" if filtered else value})
        paths = set(httpx.get(instance.url + "/openapi.json").json()["paths"])
        assert (paths != everything) is filtered, value
        instance.stop()
