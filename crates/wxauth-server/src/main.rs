use std::process::ExitCode;

use clap::Parser;
use wxauth_server::cli::{Cli, Command, KeysCommand};
use wxauth_server::config::Config;
use wxauth_server::{application::Application, commands, telemetry};

/// jemalloc, with a background thread that returns freed memory to the system about a second
/// after it is freed (`.cargo/config.toml` bakes in the settings). With glibc's allocator each
/// flood of connections left the resident set higher than the last (18 → 128 → 170 → 187 MB
/// over four floods of 10,000); with this one it goes back to within a few MB of idle, and the
/// idle set costs about 1 MB more (docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line naming the problem; the chain of causes follows on the same line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    // Commands that need no configuration.
    match &command {
        Command::Keys(KeysCommand::Generate { kind }) => return commands::generate_key(*kind),
        #[cfg(feature = "demo")]
        Command::Demo(args) => return wxauth_server::demo::run(args).await,
        Command::Healthcheck { url } => return commands::healthcheck(url),
        _ => {}
    }
    let config = Config::load(cli.config.as_deref(), None)?;
    match command {
        Command::Serve => {
            telemetry::init(&config.log);
            let app = Application::build(config).await?;
            tracing::info!(port = app.port(), "wxauth listening");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::CheckConfig => {
            use std::io::Write;
            writeln!(
                std::io::stdout(),
                "configuration is valid ({} app(s))",
                config.apps.len()
            )?;
            Ok(())
        }
        Command::Migrate { status } => commands::migrate(config, status).await,
        Command::Apps(c) => commands::apps(config, c).await,
        Command::Clients(c) => commands::clients(config, c).await,
        Command::AdminKeys(c) => commands::admin_keys(config, c).await,
        Command::RotateMasterKey => commands::rotate_master_key(config).await,
        #[cfg(feature = "demo")]
        Command::Demo(_) => Ok(()),
        Command::Keys(_) | Command::Healthcheck { .. } => Ok(()),
    }
}
