"""The OpenAPI document describes every route the app serves, with its error statuses."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from medialoom.clients.gateway import GatewayConfig, create_app


async def test_openapi_documents_every_route_and_method(gw: TestClient) -> None:
    r = await gw.get("/api/v1/openapi.json")
    doc = await r.json()
    assert r.status == 200 and doc["openapi"].startswith("3.")
    app = create_app(GatewayConfig(auth="never"))
    served = {(route.method.lower(), route.resource.canonical)
              for route in app.router.routes()
              if route.method != "HEAD" and route.resource is not None
              and route.resource.canonical.startswith(("/api", "/batch", "/jobs"))}
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"], (method, path)
            assert {"401", "403", "500", "502"} <= set(op["responses"]), (method, path)
            if method in ("post", "delete"):
                assert "415" in op["responses"], (method, path)


async def test_openapi_schema_refs_resolve(gw: TestClient) -> None:
    doc = await (await gw.get("/api/v1/openapi.json")).json()
    refs: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs and refs <= set(doc["components"]["schemas"])
    post = doc["paths"]["/api/v1/jobs"]["post"]["responses"]
    assert {"202", "400", "403", "409", "503"} <= set(post)
