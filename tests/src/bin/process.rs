//! `tessera-process`: the `tessera` command line, built inside the tests package so that its
//! integration tests can start real server processes (`CARGO_BIN_EXE_tessera-process`; cargo
//! gives a test the binaries of its own package only). Same arguments and settings as `tessera`;
//! tests/tests/multiprocess.rs runs several of these on one PostgreSQL database.

use clap::Parser;
use std::process::ExitCode;

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
