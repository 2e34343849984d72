//! The `pacer` binary: parse the command line, load settings, start logging, serve.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
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
    let settings = Settings::load(cli.config.as_deref())?;
    pacer::telemetry::init(settings.log_format);
    if !settings.unknown_env.is_empty() {
        tracing::warn!(
            variables = settings.unknown_env.join(", "),
            "ignored: these PACER_* variables name no setting"
        );
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve(settings)),
    }
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
            "No API key configured; generated one for organisation `default`:\n\n    export PACER_KEY={key}\n"
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
