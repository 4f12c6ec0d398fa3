use std::process::ExitCode;

use clap::Parser;
use wxauth_server::cli::{Cli, Command, KeysCommand};
use wxauth_server::config::Config;
use wxauth_server::{application::Application, commands, telemetry};

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
        Command::AdminKeys(c) => commands::admin_keys(config, c).await,
        Command::RotateMasterKey => commands::rotate_master_key(config).await,
        #[cfg(feature = "demo")]
        Command::Demo(_) => Ok(()),
        Command::Keys(_) | Command::Healthcheck { .. } => Ok(()),
    }
}
