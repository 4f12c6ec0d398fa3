//! `wxauth-sim`: run the WeChat simulator as a process for local stacks.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use tracing_subscriber::EnvFilter;
use wxauth_sim::{SimApp, SimAppKind, SimConfig, SimFile, Simulator};

/// A WeChat server-API simulator (jscode2session, tokens, phone numbers, OAuth2, QR codes,
/// event push) with a `/__sim/` control API.
#[derive(Debug, Parser)]
#[command(name = "wxauth-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "WXAUTH_SIM_LISTEN", default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Worker threads.
    #[arg(long, env = "WXAUTH_SIM_WORKERS", default_value_t = 1)]
    workers: usize,
    /// Turn off WeChat's frequency limits and daily quotas (for load tests).
    #[arg(long)]
    no_rate_limits: bool,
    /// An app as `appid:secret:kind` (kind: mini_program, official_account, website). Repeatable.
    #[arg(long = "app", value_name = "APPID:SECRET:KIND")]
    apps: Vec<String>,
    /// A JSON file with `apps` and pre-created `users`.
    #[arg(long, env = "WXAUTH_SIM_CONFIG")]
    config: Option<PathBuf>,
}

fn parse_app(spec: &str) -> anyhow::Result<SimApp> {
    let mut parts = spec.splitn(3, ':');
    let (Some(appid), Some(secret), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("--app {spec:?}: expected appid:secret:kind");
    };
    let kind = SimAppKind::parse(kind).with_context(|| {
        format!("--app {spec:?}: kind must be mini_program, official_account or website")
    })?;
    Ok(SimApp::new(appid, secret, kind))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let file = match &args.config {
        Some(path) => SimFile::load(path)?,
        None => SimFile::default(),
    };
    let mut apps = file.apps.clone();
    for spec in &args.apps {
        apps.push(parse_app(spec)?);
    }
    let config = SimConfig {
        listen: args.listen,
        workers: args.workers,
        apps,
        rate_limits: !args.no_rate_limits,
    };
    let sim = Simulator::spawn(config)
        .await
        .with_context(|| format!("cannot start on {}", args.listen))?;
    file.create_users(sim.state())?;

    // Scripts wait for this line to learn the address (useful with port 0).
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "wxauth-sim listening on {}", sim.base_url())?;
    stdout.flush()?;
    drop(stdout);

    shutdown_signal().await;
    tracing::info!("shutting down");
    sim.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
