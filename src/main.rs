//! The `pacer` binary: parse the command line, load settings, start logging, serve.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use pacer::cli::{Client, ImportArgs, Target};
use pacer::config::Settings;
use pacer::startup::{Application, Components};

/// glibc's allocator was the largest share of the node's CPU under load (arena locks,
/// consolidation; BENCHMARKS.md, *What changed the figures*); mimalloc's thread-local heaps
/// are not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(version, about = "A dispatcher for outbound call campaigns")]
struct Cli {
    /// A TOML file of settings, applied over config/default.toml and under PACER_* variables.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print the effective settings (files, then PACER_* variables) with secrets redacted.
    CheckConfig,
    /// Add contacts from a CSV file to a campaign, with a progress bar and a summary.
    Import(ImportArgs),
    /// The organisation's campaigns: status, progress, calls in flight, daily cap.
    Campaigns {
        /// Only campaigns in this status (draft, scheduled, active, paused, completed,
        /// cancelled, failed).
        #[arg(long)]
        status: Option<String>,
    },
    /// The nodes alive with the leases they hold, and the campaigns by status.
    Status,
    /// Pause a campaign: no new call; calls in flight run to their end.
    Pause { id: String },
    /// Resume a paused campaign.
    Resume { id: String },
    /// Cancel a campaign: contacts not yet called are cancelled.
    Cancel { id: String },
    /// Exit 0 when the node at --url answers /readyz (store reachable), 1 otherwise: the
    /// container's health check.
    Health,
    /// Print a shell's completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line with the cause chain (the key and value at fault), not a backtrace.
            #[allow(
                clippy::print_stderr,
                reason = "start-up errors go to the operator's terminal"
            )]
            {
                eprintln!("pacer: {error:#}");
            }
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Serve | Command::CheckConfig) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(run_client(command, &cli.target));
    }
    let settings = Settings::load(cli.config.as_deref())?;
    pacer::telemetry::init(settings.log_format);
    if !settings.unknown_env.is_empty() {
        tracing::warn!(
            variables = settings.unknown_env.join(", "),
            "ignored: these PACER_* variables name no setting"
        );
    }
    match command {
        Command::CheckConfig => {
            print(&format!("{settings:#?}\n"));
            Ok(())
        }
        _ => actix_web::rt::System::new().block_on(serve(settings)),
    }
}

/// The commands that talk to a node's API; their output goes to stdout.
async fn run_client(command: Command, target: &Target) -> anyhow::Result<()> {
    if let Command::Completions { shell } = command {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "pacer", &mut out);
        print(&String::from_utf8_lossy(&out));
        return Ok(());
    }
    if let Command::Health = command {
        // Docker reads 1 as unhealthy (2, the other errors' status, is reserved there).
        if let Err(error) = pacer::cli::check_ready(&target.url).await {
            #[allow(
                clippy::print_stderr,
                reason = "the health check's reason, for the operator"
            )]
            {
                eprintln!("pacer: {error:#}");
            }
            std::process::exit(1);
        }
        return Ok(());
    }
    let client = Client::new(target)?;
    let text = match command {
        Command::Import(args) => {
            let answer = client.import(&args).await?;
            pacer::cli::import_summary(&args.file, &answer)
        }
        Command::Campaigns { status } => {
            pacer::cli::campaigns_table(&client.campaigns(status.as_deref()).await?)
        }
        Command::Status => {
            let nodes = client.nodes().await?;
            let campaigns = client.campaigns(None).await?;
            pacer::cli::status_report(&target.url, &nodes, &campaigns)
        }
        Command::Pause { ref id } | Command::Resume { ref id } | Command::Cancel { ref id } => {
            let verb = match command {
                Command::Pause { .. } => "pause",
                Command::Resume { .. } => "resume",
                _ => "cancel",
            };
            let campaign = client.command(id, verb).await?;
            format!("{id}: {}\n", campaign["status"].as_str().unwrap_or("?"))
        }
        Command::Serve | Command::CheckConfig | Command::Completions { .. } | Command::Health => {
            String::new()
        }
    };
    print(&text);
    Ok(())
}

#[allow(
    clippy::print_stdout,
    reason = "the commands' output is for the terminal"
)]
fn print(text: &str) {
    print!("{text}");
}

#[allow(
    clippy::print_stdout,
    reason = "a generated key is shown once on the terminal, never logged"
)]
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let components = Components::from_settings(&settings)?;
    let app = Application::build(&settings, components).await?;
    if let Some(key) = &app.generated_key {
        // Printed once, to the terminal only: keys never go to the logs.

        println!(
            "No API key configured; generated one for organisation `default`:\n\n    export PACER_API_KEY={key}\n"
        );
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        store = settings.store_description(),
        dialer = ?settings.dialer,
        node_id = app.directory.node_id(),
        listen = %settings.listen,
        port = app.port,
        "serving"
    );
    if settings.redis_url.is_none() {
        tracing::warn!("the store is the in-memory one: nothing survives a restart");
    }
    if settings.dialer == pacer::config::DialerKind::Simulated {
        tracing::warn!("the dialer is the simulated one: no real call is placed");
    }
    let server = app.server.handle();
    let mut serving = actix_web::rt::spawn(app.server);
    tokio::select! {
        () = shutdown_signal() => {}
        // The server stopped by itself (it failed): nothing to drain for.
        ended = &mut serving => {
            ended??;
            return Ok(());
        }
    }
    // Graceful shutdown: stop claiming, let the calls in flight report (the API still takes
    // their events), then stop the API and the background tasks. What is left is in the store.
    tracing::info!("shutting down: draining dispatch");
    let waiting = app
        .directory
        .drain(Duration::from_secs(settings.shutdown_grace_secs))
        .await;
    if waiting > 0 {
        tracing::warn!(waiting, "campaigns still had calls in flight at shutdown");
    }
    server.stop(true).await;
    let _ = app.stop_background.send(true);
    app.directory.shutdown();
    serving.await??;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
