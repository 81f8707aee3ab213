//! The OpenAPI 3 document of the facade, served at `/openapi.json` (Swagger UI at `/docs/`).

use serde_json::{Value, json};

fn error_response(what: &str) -> Value {
    json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

pub fn document() -> Value {
    let name =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let namespace = json!({"name": "namespace", "in": "query", "required": false,
        "description": "the Queue's namespace (default: the facade's)", "schema": {"type": "string"}});
    let errors = |codes: &[(&str, &str)]| -> Value {
        let mut m = serde_json::Map::new();
        for (c, d) in codes {
            m.insert((*c).into(), error_response(d));
        }
        Value::Object(m)
    };
    let mut ok_create = errors(&[
        ("400", "not a Queue: the field and the reason"),
        ("401", "no token, or one the API server does not accept"),
        ("403", "the caller may not create Queues in that namespace"),
        ("409", "a Queue of that name exists"),
        (
            "422",
            "refused by the CRD's rules (their message and field)",
        ),
    ]);
    ok_create["201"] = json!({"description": "the Queue, as created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueueView"}}}});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "StreamForge REST facade",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Queues over HTTP, as the caller's own Kubernetes rights allow (bearer token: `kubectl create token <service account>`). The facade creates and changes Queue resources through the API server; the operator does the rest."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "field": {"type": "string", "description": "the field at fault, when known"}}},
                "StartRequest": {"type": "object", "required": ["target", "symbol", "type"],
                    "description": "The seeds' command JSON: every Queue spec field under its seed name (graph_name) or spec name (graphName); `name` or the seed's `queue_id` names the Queue; `command`, `telemetry_id` and `timestamp` are the operator's and ignored.",
                    "additionalProperties": true,
                    "properties": {
                        "name": {"type": "string"}, "queue_id": {"type": "string"}, "command": {"type": "string", "enum": ["start"]},
                        "target": {"type": "string"}, "symbol": {"type": "string"}, "type": {"type": "string"},
                        "time_range": {"type": "string", "example": "2024-08-01:2024-08-02"},
                        "collection_name": {"type": "string"}, "graph_name": {"type": "string"},
                        "model_type": {"type": "string", "enum": ["GCN", "GAT", "GraphSAGE"]}, "epochs": {"type": "integer"},
                        "output_type": {"type": "string"}, "output_path": {"type": "string"}, "image": {"type": "string"},
                        "sinks": {"type": "array", "items": {"type": "string"}}, "after": {"type": "array", "items": {"type": "string"}}
                    },
                    "example": {"command": "start", "queue_id": "visualize-btcusdt-2024_06_01-abc123", "target": "visualizer",
                        "symbol": "BTCUSDT", "type": "plot_graph", "graph_name": "btc_graph_5m_2024_06_01", "output_type": "html",
                        "output_path": "s3://visuals/btcusdt/2024_06_01/index.html"}
                },
                "QueueView": {"type": "object", "properties": {
                    "name": {"type": "string"}, "namespace": {"type": "string"}, "uid": {"type": "string"},
                    "created": {"type": "string"}, "spec": {"type": "object"}, "status": {"type": "object", "nullable": true},
                    "ignored": {"type": "array", "items": {"type": "string"}}}}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/queues/start": {"post": {"summary": "Create a Queue from the seeds' start command", "parameters": [namespace],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StartRequest"}}}},
                "responses": ok_create}},
            "/queues": {"get": {"summary": "The Queues of a namespace", "parameters": [namespace],
                "responses": {"200": {"description": "Queues", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "queues": {"type": "array", "items": {"$ref": "#/components/schemas/QueueView"}}}}}}},
                    "401": error_response("not authenticated"), "403": error_response("may not list Queues")}}},
            "/queues/{name}": {
                "get": {"summary": "One Queue, status as the resource has it", "parameters": [name, namespace],
                    "responses": {"200": {"description": "the Queue", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueueView"}}}},
                        "401": error_response("not authenticated"), "403": error_response("may not get it"), "404": error_response("no such Queue")}},
                "delete": {"summary": "Delete a Queue (the operator stops its run first)", "parameters": [name, namespace],
                    "responses": {"204": {"description": "deleted"}, "401": error_response("not authenticated"),
                        "403": error_response("may not delete it"), "404": error_response("no such Queue")}}},
            "/queues/{name}/stop": {"post": {"summary": "Stop a Queue (spec.suspend: true)", "parameters": [name, namespace],
                "responses": {"200": {"description": "the Queue", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueueView"}}}},
                    "401": error_response("not authenticated"), "403": error_response("may not patch it"), "404": error_response("no such Queue")}}},
            "/targets": {"get": {"summary": "Every target, the types it serves and their images", "security": [],
                "responses": {"200": {"description": "the catalog"}}}},
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}}
        }
    })
}
