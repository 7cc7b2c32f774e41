//! `zw`, the command-line client of the Zoneweaver Agent. It talks to agents over their HTTPS
//! API only; `main.rs` parses the flags and calls [`run`].

pub mod body;
pub mod cli;
pub mod client;
mod commands;
pub mod config;
pub mod follow;
pub mod output;
pub mod tls;

use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use crate::cli::{Cli, Command};
use crate::client::{Client, Reply};
use crate::config::Config;
use crate::follow::TaskFailed;
use crate::output::Ui;

/// Exit status of a followed task that failed or was cancelled.
pub const EXIT_TASK_FAILED: u8 = 3;

/// What every API command gets: the client of the chosen host and the output options.
pub struct Ctx {
    pub client: Client,
    pub ui: Ui,
    pub json: bool,
    pub wait: bool,
}

impl Ctx {
    /// Prints an answer: its JSON unchanged with `--json`, else `human`. An answer that
    /// queued a task says so, and with `--wait` the task is followed to its end (its final
    /// state is then what `--json` prints, one document per followed task).
    pub fn finish(&self, reply: &Reply, human: impl FnOnce(&Ui, &Value) -> String) -> Result<()> {
        let Some(task_id) = reply.task_id() else {
            if self.json {
                print_raw(&reply.text);
            } else {
                print!("{}", human(&self.ui, &reply.json));
            }
            return Ok(());
        };
        let mut ids = vec![task_id.to_owned()];
        if let Some(start) = reply.json["start_task_id"].as_str() {
            ids.push(start.to_owned());
        }
        if !self.wait {
            if self.json {
                print_raw(&reply.text);
            } else {
                let msg = reply.json["message"].as_str().unwrap_or("Task queued");
                println!("{msg}");
                println!("task {task_id}");
                if ids.len() > 1 {
                    println!("then task {}", ids[1]);
                }
            }
            return Ok(());
        }
        self.follow(&ids, reply.json["zone_name"].as_str())
    }

    /// Follows tasks to their end, prints their final states, fails if any did not complete.
    pub fn follow(&self, ids: &[String], zone: Option<&str>) -> Result<()> {
        let finals = follow::follow(&self.client, ids, zone)?;
        if self.json {
            for t in &finals {
                print_raw(&t.text);
            }
        } else {
            for t in finals.iter().map(|r| &r.json) {
                let status = t["status"].as_str().unwrap_or("?");
                println!(
                    "{} {} {}",
                    t["operation"].as_str().unwrap_or("task"),
                    t["zone_name"].as_str().unwrap_or(""),
                    self.ui.paint(status, output::state_paint(status))
                );
            }
        }
        if finals.iter().any(|t| t.json["status"] != "completed") {
            let tasks = finals.into_iter().map(|r| r.json).collect();
            return Err(TaskFailed { tasks }.into());
        }
        Ok(())
    }
}

/// The answer's text as received, with one final newline.
pub fn print_raw(text: &str) {
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let ui = Ui::detect();
    match cli.command {
        Command::Login(args) => commands::login::login(&cli.host, args, &ui),
        Command::Hosts(cmd) => commands::login::hosts(cmd, cli.json, &ui),
        Command::Completions { shell } => {
            commands::meta::completions(shell);
            Ok(())
        }
        Command::Man { out_dir } => commands::meta::man(out_dir.as_deref()),
        command => {
            let config = Config::load(&config::path()?)?;
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let target = config.target(
                cli.host.as_deref(),
                env("ZW_URL"),
                env("ZW_API_KEY"),
                env("ZW_FINGERPRINT"),
            )?;
            let ctx = Ctx {
                client: Client::new(&target, false)?.with_raw(cli.raw),
                ui,
                json: cli.json,
                wait: cli.wait,
            };
            commands::dispatch(&ctx, command)
        }
    }
}

/// Prints an error the way `zw` reports it and picks the exit status: the API's message and
/// field (its JSON unchanged on standard output with `--json`), a task's error, or the cause.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    if let Some(api) = err.downcast_ref::<client::ApiError>() {
        if json {
            print_raw(&api.body);
        }
        eprintln!("error: {api}");
        return ExitCode::FAILURE;
    }
    if let Some(failed) = err.downcast_ref::<TaskFailed>() {
        eprintln!("error: {failed}");
        return ExitCode::from(EXIT_TASK_FAILED);
    }
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}
