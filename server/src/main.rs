//! The `guildhall` binary: parses the command line and hands over to the library.

use clap::Parser;
use guildhall::cli::Cli;
use std::process::ExitCode;

/// mimalloc: page rendering allocates many small strings; glibc's allocator cost about a
/// tenth of each request's CPU time (`make bench`, the pages benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    guildhall::telemetry::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(guildhall::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear message, with its causes, instead of a panic or a backtrace.
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}
