//! The `tessera` binary: `tessera` (or `tessera serve`) runs the server; see `tessera --help`.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: tessera_api::Allocator = tessera_api::ALLOCATOR;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = tessera_api::cli::Cli::parse();
    match tessera_api::cli::run(cli).await {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
