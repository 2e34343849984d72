//! `POST /batch-calls/{id}/contacts/import`: a spreadsheet's CSV file, streamed in.

use serde_json::json;

use crate::helpers::*;

on_both_backends!(
    an_import_adds_the_rows_and_counts_the_others_by_reason,
    a_dry_run_counts_the_same_and_stores_nothing,
    an_import_with_a_key_is_replayed_not_repeated,
    a_large_file_arrives_in_chunks_and_lists_at_most_a_thousand_errors,
    bad_imports_are_refused_whole,
);

impl TestApp {
    /// Sends `body` as a CSV file to the campaign's import route, with `query` after `?`.
    pub async fn import(&self, id: &str, query: &str, body: impl Into<reqwest::Body>) -> Reply {
        let request = self
            .client
            .post(format!(
                "{}/batch-calls/{id}/contacts/import?{query}",
                self.base
            ))
            .bearer_auth(ACME_KEY)
            .header("Content-Type", "text/csv")
            .body(body);
        Reply::from(request.send().await.expect("the server answers")).await
    }
}

/// A file as a spreadsheet exports it: BOM, CRLF, its own column names, national numbers, an
/// empty row at the end.
const FILE: &str = "\u{feff}Phone,First Name,Last Name,plan,Time Zone\r\n\
    (201) 555-0123,Ada,Lovelace,gold,\r\n\
    +1 201 555 0124,Grace,,silver,America/Chicago\r\n\
    201-555-0123,Ada again,,,\r\n\
    not a number,,,,\r\n\
    (201) 555-0125,Listed,,,\r\n\
    (201) 555-0126,Far,,,Mars/Olympus\r\n\
    (201) 555-0127,Wide,,,,extra\r\n\
    \"(201) 555-0128\",\"Quote, \"\"the\"\" name\",,\"multi\nline\",\r\n\
    ,,,,\r\n";

/// A node whose organisation lists one number of [`FILE`], and a campaign without contacts.
async fn spawn_with_one_listed(backend: Backend) -> (TestApp, String) {
    let app = spawn_app(backend).await;
    let listed = json!({ "entries": [{ "phone_number": "+12015550125" }] });
    app.post("/dnc", listed).await.expect(200);
    let id = app.create_campaign(0, json!({})).await;
    (app, id)
}

async fn an_import_adds_the_rows_and_counts_the_others_by_reason(backend: Backend) {
    let (app, id) = spawn_with_one_listed(backend).await;
    let reply = app.import(&id, "default_region=US", FILE).await.expect(200);
    let data = reply.data();
    assert_eq!(data["added_count"], 3, "{data}");
    assert_eq!(data["failed_count"], 5);
    assert_eq!(
        data["failed_by_reason"],
        json!({ "bad_row": 2, "dnc": 1, "duplicate": 1, "invalid_number": 1 })
    );
    let errors: Vec<(u64, &str, &str)> = data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            let row = error["row"].as_u64().unwrap();
            (
                row,
                error["phone_number"].as_str().unwrap(),
                error["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (4, "+12015550123", "duplicate"),
            (5, "not a number", "invalid_number"),
            (6, "+12015550125", "dnc"),
            (7, "(201) 555-0126", "bad_row"),
            (8, "(201) 555-0127", "bad_row"),
        ]
    );
    let contacts = app.contacts(&id).await;
    let summary: Vec<(&str, &str)> = contacts
        .iter()
        .map(|contact| {
            (
                contact["phone_number"].as_str().unwrap(),
                contact["status"].as_str().unwrap(),
            )
        })
        .collect();
    // The listed number is kept, skipped, so that the campaign shows why it is not called.
    assert_eq!(
        summary,
        [
            ("+12015550123", "pending"),
            ("+12015550124", "pending"),
            ("+12015550125", "skipped"),
            ("+12015550128", "pending"),
        ]
    );
    assert_eq!(contacts[0]["first_name"], "Ada");
    assert_eq!(contacts[0]["custom_fields"], json!({ "plan": "gold" }));
    assert_eq!(contacts[1]["timezone"], "America/Chicago");
    assert_eq!(contacts[2]["skip_reason"], "dnc");
    assert_eq!(contacts[3]["first_name"], "Quote, \"the\" name");
    assert_eq!(
        contacts[3]["custom_fields"],
        json!({ "plan": "multi\nline" })
    );
}

async fn a_dry_run_counts_the_same_and_stores_nothing(backend: Backend) {
    let (app, id) = spawn_with_one_listed(backend).await;
    let dry = app
        .import(&id, "default_region=us&dry_run=true", FILE)
        .await
        .expect(200);
    assert_eq!(dry.data()["dry_run"], true);
    assert!(
        app.contacts(&id).await.is_empty(),
        "a dry run stores nothing"
    );
    let real = app.import(&id, "default_region=US", FILE).await.expect(200);
    let counts = |reply: &Reply| {
        let data = reply.data();
        (
            data["added_count"].clone(),
            data["failed_by_reason"].clone(),
        )
    };
    assert_eq!(counts(&dry), counts(&real));
}

async fn an_import_with_a_key_is_replayed_not_repeated(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(0, json!({})).await;
    let send = |file: &'static str| {
        app.client
            .post(format!("{}/batch-calls/{id}/contacts/import", app.base))
            .bearer_auth(ACME_KEY)
            .header("X-Idempotency-Key", "import-1")
            .body(file)
            .send()
    };
    let file = "phone_number\n+15550000001\n+15550000002\n";
    let first = Reply::from(send(file).await.unwrap()).await.expect(200);
    let again = Reply::from(send(file).await.unwrap()).await.expect(200);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["data"], first.body["data"]);
    assert_eq!(app.contacts(&id).await.len(), 2);
    let other = Reply::from(send("phone_number\n+15550000003\n").await.unwrap()).await;
    assert_eq!(
        (other.status.as_u16(), other.error_code()),
        (409, "idempotency_conflict")
    );
}

async fn a_large_file_arrives_in_chunks_and_lists_at_most_a_thousand_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(0, json!({})).await;
    // 20 000 rows (ten store batches), every tenth not a number, sent as 4 KiB chunks.
    let mut file = String::from("phone_number,first_name\n");
    for row in 0..20_000 {
        if row % 10 == 9 {
            file.push_str("invalid,x\n");
        } else {
            file.push_str(&format!("{},name {row}\n", phone(row)));
        }
    }
    let length = file.len();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = file
        .into_bytes()
        .chunks(4096)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let reply = app
        .client
        .post(format!("{}/batch-calls/{id}/contacts/import", app.base))
        .bearer_auth(ACME_KEY)
        .header("Content-Type", "text/csv")
        .header("Content-Length", length)
        .body(body)
        .send()
        .await
        .unwrap();
    let reply = Reply::from(reply).await.expect(200);
    let data = reply.data();
    assert_eq!(data["added_count"], 18_000);
    assert_eq!(data["failed_by_reason"], json!({ "invalid_number": 2_000 }));
    let errors = data["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1_000);
    assert_eq!(errors[0]["row"], 11, "the header is row 1");
    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["total_contacts"], 18_000);
}

async fn bad_imports_are_refused_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(0, json!({})).await;
    let refused = |reply: Reply| (reply.status.as_u16(), reply.error_code().to_owned());
    let no_phone = app.import(&id, "", "name,email\nAda,a@b\n").await;
    assert_eq!(refused(no_phone), (422, "validation_error".into()));
    let region = app
        .import(&id, "default_region=XX", "phone\n+15550000001\n")
        .await;
    assert_eq!(region.error_field(), "default_region");
    assert_eq!(
        refused(app.import(&id, "", "\r\n").await),
        (422, "validation_error".into())
    );
    let json = app
        .client
        .post(format!("{}/batch-calls/{id}/contacts/import", app.base))
        .bearer_auth(ACME_KEY)
        .json(&json!({ "contacts": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused(Reply::from(json).await),
        (415, "unsupported_media_type".into())
    );
    // A stream without a length could be larger than the limit: it is refused before it starts.
    let chunks: Vec<Result<&'static str, std::io::Error>> =
        vec![Ok("phone\n"), Ok("+15550000001\n")];
    let chunked = app
        .import(
            &id,
            "",
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!(refused(chunked), (411, "length_required".into()));
    let large = app
        .client
        .post(format!("{}/batch-calls/{id}/contacts/import", app.base))
        .bearer_auth(ACME_KEY)
        .header("Content-Length", (50 << 20) + 1)
        .body(vec![b'a'; 16])
        .send()
        .await;
    // The node answers 413 from the declared length, before the body (which is short).
    if let Ok(large) = large {
        assert_eq!(Reply::from(large).await.status, 413);
    }
    let missing = app
        .import(
            uuid::Uuid::new_v4().to_string().as_str(),
            "",
            "phone\n+15550000001\n",
        )
        .await;
    assert_eq!(missing.status, 404);
    assert!(app.contacts(&id).await.is_empty(), "nothing was added");
    let cancelled = app.create_campaign(0, json!({})).await;
    app.command(&cancelled, "cancel").await.expect(200);
    let closed = app.import(&cancelled, "", "phone\n+15550000001\n").await;
    assert_eq!(closed.status, 409);
    let dry = app
        .import(&cancelled, "dry_run=true", "phone\n+15550000001\n")
        .await;
    assert_eq!(dry.status, 409, "a dry run answers as the import would");
}

/// `timezone_fallback: skip` refuses rows whose zone nothing gives, unless the row names one.
#[actix_web::test]
async fn rows_without_a_zone_are_refused_where_the_campaign_would_skip_them() {
    let app = spawn_app(Backend::Memory).await;
    let id = app
        .create_campaign(
            0,
            json!({ "timezone_mode": "contact", "timezone_fallback": "skip" }),
        )
        .await;
    let file = "phone,timezone\n+15550000001,\n+15550000002,Europe/Paris\n";
    let reply = app.import(&id, "", file).await.expect(200);
    assert_eq!(reply.data()["added_count"], 1);
    assert_eq!(
        reply.data()["failed_by_reason"],
        json!({ "timezone_unresolvable": 1 })
    );
}
