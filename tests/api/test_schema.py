"""The OpenAPI schema and its docs page: complete, self-hosted, and naming every auth scheme."""

import pytest

CONTRACT = {
    "/api/auth/token/": {"post"},
    "/api/service-settings/": {"get", "patch"},
    "/api/agents/": {"get", "post"},
    "/api/agents/{agent_id}/": {"get", "patch"},
    "/api/agents/me/": {"get", "patch"},
    "/api/sessions/": {"get", "post"},
    "/api/sessions/{session_id}/": {"get"},
    "/api/sessions/{session_id}/messages/": {"get", "post"},
    "/api/sessions/{session_id}/accept/": {"post"},
    "/api/sessions/{session_id}/end/": {"post"},
    "/healthz": {"get"},
}


@pytest.fixture
def schema(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_schema_covers_every_operation_of_the_contract(schema):
    assert schema["openapi"].startswith("3.")
    for path, methods in CONTRACT.items():
        assert methods <= set(schema["paths"].get(path, {})), path


@pytest.mark.django_db
def test_schema_names_token_cookie_and_customer_token_auth(schema):
    schemes = schema["components"]["securitySchemes"]
    assert (
        schemes["tokenAuth"]["in"] == "header" and schemes["tokenAuth"]["name"] == "Authorization"
    )
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["customerToken"] == {**schemes["customerToken"], "in": "header"}
    assert schemes["customerToken"]["name"] == "X-Customer-Token"
    detail = schema["paths"]["/api/sessions/{session_id}/"]["get"]["security"]
    assert {"customerToken": []} in detail
    create = schema["paths"]["/api/sessions/"]["post"]["security"]
    assert {} in create  # anyone may open a chat


@pytest.mark.django_db
def test_every_error_response_is_documented_with_the_error_shape(schema):
    error_ref = "#/components/schemas/Error"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": error_ref}, (method, path, code)
    required = schema["components"]["schemas"]["Error"]["required"]
    assert set(required) == {"detail", "code"}


@pytest.mark.django_db
def test_request_bodies_are_documented(schema):
    bodies = {
        ("/api/sessions/", "post"): {"customer_name"},
        ("/api/sessions/{session_id}/messages/", "post"): {"body"},
        ("/api/agents/", "post"): {"username", "password"},
        ("/api/auth/token/", "post"): {"username", "password"},
    }
    components = schema["components"]["schemas"]
    for (path, method), required in bodies.items():
        ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        component = components[ref["$ref"].rsplit("/", 1)[1]]
        assert set(component["required"]) == required, path
        assert component.get("additionalProperties") is False, path


METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.mark.django_db
def test_each_method_of_a_path_describes_what_it_does(schema):
    # drf-spectacular gives every method the view's docstring unless told otherwise
    for path, item in schema["paths"].items():
        operations = {m: op for m, op in item.items() if m in METHODS}
        if len(operations) < 2:
            continue
        described = {m: op.get("description", "").strip() for m, op in operations.items()}
        assert all(described.values()), (path, described)
        assert len(set(described.values())) == len(described), (path, described)
    create = schema["paths"]["/api/sessions/"]["post"]
    assert "opens a chat" in create["description"] and "customer_token" in create["description"]
    assert create["summary"] == "Open a chat"


@pytest.mark.django_db
def test_docs_page_serves_swagger_ui_from_our_own_static_files(anon):
    page = anon.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "https://" not in html
    bundle = anon.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
