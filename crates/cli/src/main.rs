use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = zw::cli::Cli::parse();
    let json = cli.json;
    match zw::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => zw::report(&e, json),
    }
}
