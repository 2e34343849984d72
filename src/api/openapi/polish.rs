//! What the generated document cannot say by itself, added to its JSON: readable operation ids,
//! per route only the errors that route can give, the response headers, separate schemas for a
//! create and a PATCH, an example on every request body, and the calls Pacer makes (`webhooks`:
//! the outbound events and the dial request).

use serde_json::{Map, Value, json};

use super::super::BASE_PATH;

/// (method, path under the base path or at the root, operation id).
const OPERATION_IDS: [(&str, &str, &str); 32] = [
    ("post", "/batch-calls", "create_campaign"),
    ("get", "/batch-calls", "list_campaigns"),
    ("post", "/batch-calls/bulk-delete", "delete_campaigns"),
    ("get", "/batch-calls/{id}", "get_campaign"),
    ("patch", "/batch-calls/{id}", "update_campaign"),
    ("delete", "/batch-calls/{id}", "delete_campaign"),
    ("post", "/batch-calls/{id}/schedule", "schedule_campaign"),
    ("post", "/batch-calls/{id}/pause", "pause_campaign"),
    ("post", "/batch-calls/{id}/resume", "resume_campaign"),
    ("post", "/batch-calls/{id}/cancel", "cancel_campaign"),
    ("post", "/batch-calls/{id}/contacts", "add_contacts"),
    ("get", "/batch-calls/{id}/contacts", "list_contacts"),
    (
        "post",
        "/batch-calls/{id}/contacts/import",
        "import_contacts",
    ),
    ("get", "/batch-calls/{id}/analytics", "get_analytics"),
    ("get", "/batch-calls/{id}/diagnostics", "get_diagnostics"),
    ("get", "/batch-calls/{id}/forecast", "get_forecast"),
    ("post", "/batch-calls/{id}/retry", "retry_contacts"),
    (
        "post",
        "/batch-calls/{id}/contacts/{contact_id}/callback",
        "schedule_callback",
    ),
    ("post", "/calls/{call_id}/events", "report_call_event"),
    ("get", "/webhooks/dead-letters", "list_dead_letters"),
    (
        "post",
        "/webhooks/dead-letters/replay",
        "replay_dead_letters",
    ),
    ("post", "/dnc", "add_dnc_entries"),
    ("post", "/dnc/import", "import_dnc_entries"),
    ("get", "/dnc", "list_dnc_entries"),
    ("get", "/dnc/{phone_number}", "get_dnc_entry"),
    ("delete", "/dnc/{phone_number}", "delete_dnc_entry"),
    ("delete", "/dnc/prefix/{prefix}", "delete_dnc_prefix"),
    ("get", "/nodes", "list_nodes"),
    ("get", "/healthz", "healthz"),
    ("get", "/readyz", "readyz"),
    ("get", "/metrics", "metrics"),
    ("get", "/openapi.json", "openapi"),
];

/// The error answers and when a route can give each: (status, description, applies).
struct Rule {
    status: &'static str,
    description: &'static str,
    applies: fn(&Route) -> bool,
}

/// What decides which errors a route can give.
struct Route<'a> {
    method: &'a str,
    path: &'a str,
    has_params: bool,
    idempotent: bool,
}

impl Route<'_> {
    fn has_body(&self) -> bool {
        matches!(self.method, "post" | "patch" | "put")
    }

    /// A campaign's status decides whether the request is allowed.
    fn changes_a_campaign(&self) -> bool {
        self.method != "get" && self.path.starts_with("/batch-calls/{id}")
    }
}

const RULES: [Rule; 9] = [
    Rule {
        status: "400",
        description: "The body is not JSON",
        applies: |route| route.has_body(),
    },
    Rule {
        status: "401",
        description: "Missing or invalid key (or signature)",
        applies: |_| true,
    },
    Rule {
        status: "404",
        description: "No such resource for this organisation",
        applies: |route| route.path.contains('{'),
    },
    Rule {
        status: "408",
        description: "The body did not arrive in time",
        applies: |route| route.has_body(),
    },
    Rule {
        status: "409",
        description: "Not allowed in the campaign's status (`details.current_status`), or an idempotency key reused",
        applies: |route| route.changes_a_campaign() || route.idempotent,
    },
    Rule {
        status: "413",
        description: "The body is larger than the limit",
        applies: |route| route.has_body(),
    },
    Rule {
        status: "422",
        description: "A field or parameter is invalid; `details.field` names it",
        applies: |route| route.has_body() || route.has_params,
    },
    Rule {
        status: "429",
        description: "Rate limit (or too many wrong keys from one address); see `Retry-After`",
        applies: |_| true,
    },
    Rule {
        status: "503",
        description: "The store is unavailable",
        applies: |_| true,
    },
];

/// Request bodies shown as examples, by operation id.
fn request_example(operation: &str) -> Option<Value> {
    Some(match operation {
        "create_campaign" => json!({
            "name": "December renewals", "agent_id": "agent_1",
            "phone_number_ids": ["+15550009999"], "timezone": "America/New_York",
            "start_time": "09:00", "end_time": "17:00", "working_days": [1, 2, 3, 4, 5],
            "max_concurrent_calls": 5, "max_calls_per_day": 500,
            "retry_failed": true, "max_retry_attempts": 2, "retry_delay_minutes": 60,
            "contacts": [{ "phone_number": "+12015550123", "first_name": "Ada",
                           "custom_fields": { "plan": "gold" } }]
        }),
        "update_campaign" => json!({ "end_time": "18:00", "max_calls_per_day": 800 }),
        "schedule_campaign" => json!({ "scheduled_at": "2026-12-08T14:00:00Z" }),
        "add_contacts" => json!({
            "contacts": [{ "phone_number": "+12015550124", "first_name": "Grace",
                           "email": "grace@example.com" }]
        }),
        "delete_campaigns" => json!({ "ids": ["6f1c2a7e-9b4d-4c1e-8f0a-2b3c4d5e6f70"] }),
        "retry_contacts" => json!({ "outcomes": ["no_answer", "busy"], "include_unknown": false }),
        "schedule_callback" => json!({ "at": "2026-12-08T15:00:00Z" }),
        "report_call_event" => {
            json!({ "event": "call.ended", "outcome": "completed", "duration_seconds": 42 })
        }
        "replay_dead_letters" => json!({ "all": true }),
        "add_dnc_entries" => json!({
            "entries": [{ "phone_number": "+14155550101", "reason": "asked" },
                        { "prefix": "+1201", "expires_at": "2027-06-01T00:00:00Z" }]
        }),
        "import_dnc_entries" => json!("phone_number,reason\n+14155550101,asked\n"),
        "pause_campaign" | "resume_campaign" | "cancel_campaign" => json!({}),
        _ => return None,
    })
}

/// Applies every addition to the generated document.
pub fn polish(document: &mut Value) {
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (full_path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let keyed = full_path.starts_with(BASE_PATH);
        let path = full_path.strip_prefix(BASE_PATH).unwrap_or(full_path);
        for (method, operation) in item.iter_mut() {
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            if let Some((_, _, id)) = OPERATION_IDS
                .iter()
                .find(|(m, p, _)| *m == method && *p == path)
            {
                operation.insert("operationId".to_owned(), json!(id));
            }
            let parameters = operation.get("parameters").and_then(Value::as_array);
            let idempotent = parameters.is_some_and(|parameters| {
                parameters
                    .iter()
                    .any(|parameter| parameter["name"] == "X-Idempotency-Key")
            });
            let route = Route {
                method: method.as_str(),
                path,
                has_params: parameters.is_some_and(|parameters| !parameters.is_empty()),
                idempotent,
            };
            if keyed {
                errors_of(operation, &route);
            }
            headers_of(operation, keyed, idempotent);
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(example) = request_example(&id) {
                if let Some(content) = operation
                    .get_mut("requestBody")
                    .and_then(|body| body["content"].as_object_mut())
                {
                    for media in content.values_mut() {
                        media["example"] = example.clone();
                    }
                } else if id.ends_with("_campaign") {
                    // The commands take an optional body; documented so.
                    operation.insert(
                        "requestBody".to_owned(),
                        json!({ "required": false, "content": { "application/json": {
                            "schema": { "type": "object" }, "example": example } } }),
                    );
                }
            }
        }
    }
    split_campaign_input(document);
    document["components"]["schemas"]["ErrorEnvelope"]["example"] = json!({
        "error": { "code": "validation_error", "message": "end_time: `25:00` is not a time of day in HH:MM (00:00 to 23:59)",
                   "details": { "field": "end_time", "reason": "`25:00` is not a time of day in HH:MM (00:00 to 23:59)" } },
        "meta": { "request_id": "3f2b8c1e-5a6d-4e7f-9a0b-1c2d3e4f5a6b", "ts": "2026-12-07T15:04:05.123Z" }
    });
    let webhooks: Value = serde_json::from_str(include_str!("webhooks.json"))
        .expect("src/api/openapi/webhooks.json is JSON (a unit test reads it)");
    document["webhooks"] = webhooks;
}

/// Keeps the route's own answers and adds the shared errors that apply to it, and only those.
fn errors_of(operation: &mut Map<String, Value>, route: &Route<'_>) {
    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for rule in RULES.iter().filter(|rule| (rule.applies)(route)) {
        responses.entry(rule.status).or_insert_with(|| {
            json!({
                "description": rule.description,
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } }
            })
        });
    }
}

/// `X-Request-Id` on every answer, `Retry-After` on a 429, `Idempotent-Replayed` on the success
/// of a route that keeps answers by idempotency key.
fn headers_of(operation: &mut Map<String, Value>, keyed: bool, idempotent: bool) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("headers is an object");
        headers.insert(
            "X-Request-Id".to_owned(),
            json!({ "description": "The request's id, also in the error envelope's `meta` and the node's log",
                    "schema": { "type": "string" } }),
        );
        if status == "429" && keyed {
            headers.insert(
                "Retry-After".to_owned(),
                json!({ "description": "Whole seconds until a request is allowed again",
                        "schema": { "type": "integer" } }),
            );
        }
        if idempotent && status.starts_with('2') {
            headers.insert(
                "Idempotent-Replayed".to_owned(),
                json!({ "description": "`true` on an answer replayed for a repeated `X-Idempotency-Key`",
                        "schema": { "type": "string", "enum": ["true"] } }),
            );
        }
    }
}

/// One input type serves a create and a PATCH; the document shows them apart: the create with
/// its required fields, the PATCH without `contacts` (refused there) and with nothing required.
fn split_campaign_input(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    let Some(input) = schemas.get("CampaignInput").cloned() else {
        return;
    };
    let mut create = input.clone();
    create["required"] = json!(["name", "agent_id"]);
    create["description"] = json!("A new campaign, created in `draft` with its first contacts.");
    let mut patch = input;
    if let Some(properties) = patch["properties"].as_object_mut() {
        properties.remove("contacts");
    }
    patch["description"] = json!(
        "The fields to change; the others stay. `null` clears `start_time`, `end_time`, `max_calls_per_day` and `expires_at`."
    );
    if let Some(schemas) = schemas.as_object_mut() {
        schemas.remove("CampaignInput");
        schemas.insert("CampaignCreate".to_owned(), create);
        schemas.insert("CampaignPatch".to_owned(), patch);
    }
    let paths = &mut document["paths"];
    let base = BASE_PATH;
    for (path, method, schema) in [
        (format!("{base}/batch-calls"), "post", "CampaignCreate"),
        (
            format!("{base}/batch-calls/{{id}}"),
            "patch",
            "CampaignPatch",
        ),
    ] {
        if let Some(content) = paths[&path][method]["requestBody"]["content"].as_object_mut() {
            for media in content.values_mut() {
                media["schema"] = json!({ "$ref": format!("#/components/schemas/{schema}") });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhooks_file_is_json() {
        let webhooks: Value = serde_json::from_str(include_str!("webhooks.json")).unwrap();
        assert!(webhooks["dial_request"]["post"]["requestBody"].is_object());
    }

    #[test]
    fn routes_get_only_the_errors_they_can_give() {
        let statuses = |method, path, has_params, idempotent| {
            let route = Route {
                method,
                path,
                has_params,
                idempotent,
            };
            RULES
                .iter()
                .filter(|rule| (rule.applies)(&route))
                .map(|rule| rule.status)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            statuses("get", "/nodes", false, false),
            ["401", "429", "503"]
        );
        assert_eq!(
            statuses("get", "/batch-calls/{id}", true, false),
            ["401", "404", "422", "429", "503"]
        );
        assert_eq!(
            statuses("post", "/batch-calls/{id}/pause", true, false),
            [
                "400", "401", "404", "408", "409", "413", "422", "429", "503"
            ]
        );
        assert!(!statuses("post", "/dnc", false, false).contains(&"409"));
        assert!(statuses("post", "/batch-calls", false, true).contains(&"409"));
    }
}
