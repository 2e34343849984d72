//! The operator's commands beside `serve`: each talks to a node's public API with an
//! organisation's key (`--url`, `--key` or `PACER_URL`, `PACER_API_KEY`) and prints a table or a
//! summary. Nothing here reaches the store directly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncReadExt;

/// Where the commands send their requests.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The node's address.
    #[arg(
        long,
        env = "PACER_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// The organisation's API key.
    #[arg(long, env = "PACER_API_KEY", hide_env_values = true, global = true)]
    pub key: Option<String>,
}

/// What `pacer import` sends.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The CSV file (a header naming `phone_number`, `phone` or `contact_number`).
    pub file: PathBuf,
    /// The campaign to add the contacts to.
    #[arg(long)]
    pub campaign: String,
    /// The country of national formats in the file (ISO 3166 alpha-2, like US).
    #[arg(long)]
    pub default_region: Option<String>,
    /// Check and count every row, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Show no progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// A client of one node's API.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

const API: &str = "/api/public/v1";

impl Client {
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let key = target.key.clone().context(
            "no API key: pass --key or set PACER_API_KEY (a node without configured keys prints \
             one at start-up)",
        )?;
        Ok(Self {
            http: reqwest::Client::builder()
                .user_agent(concat!("pacer-cli/", env!("CARGO_PKG_VERSION")))
                .build()?,
            base: target.url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// Sends `request` with the key; the body's `data` on success, the error envelope's
    /// message otherwise. A 429 is sent again after its `Retry-After` (up to 5 times; a
    /// streamed body cannot be, and is not).
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let mut request = request.bearer_auth(&self.key);
        let mut tries = 0;
        let response = loop {
            let again = request.try_clone();
            let response = request
                .send()
                .await
                .with_context(|| format!("no answer from {}", self.base))?;
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1)
                .min(30);
            match again {
                Some(again) if response.status() == 429 && tries < 5 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                    request = again;
                }
                _ => break response,
            }
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let error = &body["error"];
        let mut message = format!(
            "{status}: {}",
            error["message"].as_str().unwrap_or("no error envelope")
        );
        if let Some(current) = error["details"]["current_status"].as_str() {
            let _ = write!(message, " (the campaign is {current})");
        }
        bail!(message)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{API}{path}", self.base)))
            .await
    }

    /// The nodes alive, the answering one first.
    pub async fn nodes(&self) -> anyhow::Result<Vec<Value>> {
        let answer = self.get("/nodes").await?;
        Ok(answer["data"].as_array().cloned().unwrap_or_default())
    }

    /// Every campaign of the organisation, page by page, optionally of one status.
    pub async fn campaigns(&self, status: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut campaigns = Vec::new();
        loop {
            let mut path = format!("/batch-calls?limit=100&offset={}", campaigns.len());
            if let Some(status) = status {
                let _ = write!(path, "&status={status}");
            }
            let page = self.get(&path).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let done =
                data.is_empty() || !page["pagination"]["has_more"].as_bool().unwrap_or(false);
            campaigns.extend(data);
            if done {
                return Ok(campaigns);
            }
        }
    }

    /// `pause`, `resume` or `cancel`: the campaign as it is after the command.
    pub async fn command(&self, id: &str, command: &str) -> anyhow::Result<Value> {
        let url = format!("{}{API}/batch-calls/{id}/{command}", self.base);
        Ok(self.send(self.http.post(url)).await?["data"].take())
    }

    /// Streams `args.file` to the import route, with a progress bar of the bytes sent (the node
    /// reads as it stores, so the bar follows the import).
    pub async fn import(&self, args: &ImportArgs) -> anyhow::Result<Value> {
        let file = tokio::fs::File::open(&args.file)
            .await
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let length = file.metadata().await?.len();
        let bar = progress_bar(length, args.quiet);
        let sent = bar.clone();
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            let mut chunk = vec![0; 64 << 10];
            match file.read(&mut chunk).await {
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    Some((Ok::<_, std::io::Error>(chunk), file))
                }
                Err(error) => Some((Err(error), file)),
            }
        })
        .inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                sent.inc(chunk.len() as u64);
            }
        });
        let mut url = format!(
            "{}{API}/batch-calls/{}/contacts/import?dry_run={}",
            self.base, args.campaign, args.dry_run
        );
        if let Some(region) = &args.default_region {
            let _ = write!(url, "&default_region={region}");
        }
        let request = self
            .http
            .post(url)
            .header("Content-Type", "text/csv")
            .header("Content-Length", length)
            .body(reqwest::Body::wrap_stream(chunks));
        let answer = self.send(request).await;
        bar.finish_and_clear();
        Ok(answer?["data"].take())
    }
}

/// Whether the node at `url` is ready (`/readyz` answers 2xx within 3 s); no key needed.
pub async fn check_ready(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?;
    let url = format!("{}/readyz", url.trim_end_matches('/'));
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        bail!("{url}: {}", response.status())
    }
}

fn progress_bar(length: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// The import's answer as the operator reads it: rows added, rows refused by reason, the first
/// rows refused.
pub fn import_summary(file: &Path, answer: &Value) -> String {
    let mut text = format!(
        "{}: {} rows added, {} not added{}\n",
        file.display(),
        answer["added_count"],
        answer["failed_count"],
        if answer["dry_run"].as_bool() == Some(true) {
            " (dry run: nothing stored)"
        } else {
            ""
        }
    );
    if let Some(reasons) = answer["failed_by_reason"]
        .as_object()
        .filter(|r| !r.is_empty())
    {
        let rows: Vec<Vec<String>> = reasons
            .iter()
            .map(|(reason, count)| vec![reason.clone(), count.to_string()])
            .collect();
        text.push_str(&table(&["REASON", "ROWS"], &rows));
    }
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    if !errors.is_empty() {
        let rows: Vec<Vec<String>> = errors
            .iter()
            .take(10)
            .map(|error| {
                ["row", "reason", "phone_number", "detail"]
                    .iter()
                    .map(|field| plain(&error[field]))
                    .collect()
            })
            .collect();
        text.push_str("first rows not added:\n");
        text.push_str(&table(&["ROW", "REASON", "NUMBER", "DETAIL"], &rows));
    }
    text
}

/// The campaigns as a table: status, progress, calls today against the cap.
pub fn campaigns_table(campaigns: &[Value]) -> String {
    let rows: Vec<Vec<String>> = campaigns
        .iter()
        .map(|campaign| {
            let total = campaign["total_contacts"].as_u64().unwrap_or(0);
            let waiting = campaign["pending"].as_u64().unwrap_or(0)
                + campaign["in_progress"].as_u64().unwrap_or(0);
            let done = total.saturating_sub(waiting);
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            vec![
                plain(&campaign["id"]),
                plain(&campaign["name"]).chars().take(32).collect(),
                plain(&campaign["status"]),
                format!("{done}/{total} ({percent}%)"),
                plain(&campaign["in_progress"]),
                match campaign["max_calls_per_day"].as_u64() {
                    Some(cap) => format!("{cap}/day"),
                    None => "-".to_owned(),
                },
                plain(&campaign["updated_at"]),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "STATUS", "DONE", "IN CALL", "CAP", "UPDATED"],
        &rows,
    )
}

/// `pacer status`: the nodes alive with their leases, and the organisation's campaigns by
/// status.
pub fn status_report(url: &str, nodes: &[Value], campaigns: &[Value]) -> String {
    let node_rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|node| {
            vec![
                plain(&node["node_id"]),
                plain(&node["leases_held"]),
                if node["this_node"].as_bool() == Some(true) {
                    format!("answered at {url}")
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    let mut by_status: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for campaign in campaigns {
        let entry = by_status.entry(plain(&campaign["status"])).or_default();
        entry.0 += 1;
        entry.1 += campaign["total_contacts"].as_u64().unwrap_or(0);
        entry.2 += campaign["in_progress"].as_u64().unwrap_or(0);
    }
    let status_rows: Vec<Vec<String>> = by_status
        .into_iter()
        .map(|(status, (count, contacts, in_call))| {
            vec![
                status,
                count.to_string(),
                contacts.to_string(),
                in_call.to_string(),
            ]
        })
        .collect();
    let mut text = format!("{} node(s) alive\n", nodes.len());
    text.push_str(&table(&["NODE", "LEASES", ""], &node_rows));
    let _ = writeln!(text, "\n{} campaign(s)", campaigns.len());
    text.push_str(&table(
        &["STATUS", "CAMPAIGNS", "CONTACTS", "IN CALL"],
        &status_rows,
    ));
    text
}

/// A JSON value as a cell: strings without quotes, `-` for null.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// Left-aligned columns, two spaces apart, a header line first.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|name| name.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|name| (*name).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![
            vec!["a".to_owned(), "long cell".to_owned()],
            vec!["longer".to_owned(), "b".to_owned()],
        ];
        assert_eq!(
            table(&["X", "Y"], &rows),
            "X       Y\na       long cell\nlonger  b\n"
        );
    }

    #[test]
    fn an_import_summary_counts_reasons_and_shows_the_first_rows() {
        let answer = json!({
            "added_count": 2, "failed_count": 1, "dry_run": false,
            "failed_by_reason": { "invalid_number": 1 },
            "errors": [{ "row": 3, "reason": "invalid_number", "phone_number": "x", "detail": "bad" }],
        });
        let text = import_summary(Path::new("list.csv"), &answer);
        assert!(
            text.starts_with("list.csv: 2 rows added, 1 not added\n"),
            "{text}"
        );
        assert!(text.contains("invalid_number  1"), "{text}");
        assert!(text.contains("3    invalid_number  x       bad"), "{text}");
    }
}
