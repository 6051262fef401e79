#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use tracing::Level;
use userd::{
    cli::{self, Cli, Command},
    config::{self, Config},
    telemetry,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env(cli.bind.clone(), cli.data_dir.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("userd: {e}");
            return ExitCode::from(2);
        }
    };
    let log_format = config.log_format;
    telemetry::init_logging(&config.log, log_format);
    for (name, _) in std::env::vars() {
        if name.starts_with("USERD_") && !config::KNOWN_VARS.contains(&name.as_str()) {
            tracing::warn!(variable = %name, "unknown setting ignored");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            telemetry::print(log_format, Level::ERROR, &format!("userd: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            telemetry::print(log_format, Level::ERROR, &format!("userd: {}", cli::error_line(&e)));
            ExitCode::FAILURE
        }
    }
}
