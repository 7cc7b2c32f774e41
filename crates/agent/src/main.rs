use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use zoneweaver_agent::config::{self, Config};
use zoneweaver_agent::keys::{self, Role};
use zoneweaver_agent::server::{self, ServeOptions};

/// Host agent for bhyve zones on OmniOS: zones, virtual networking and provisioning over one
/// HTTPS API.
#[derive(Parser)]
#[command(name = "zoneweaver-agent", version, about, long_about = None)]
struct Cli {
    /// Configuration file [default: /etc/zoneweaver-agent/config.yaml]
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Use the demo's data directory (./zoneweaver-demo) and emulated host
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent
    Serve {
        /// With --demo: the size of the emulated host's pool when it is made (e.g. 4T)
        #[arg(long, value_name = "SIZE", requires = "demo")]
        pool_size: Option<String>,
    },
    /// Manage API keys (works while the agent runs)
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Configuration helpers
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the OpenAPI document (JSON)
    Openapi,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print its token (shown only this once)
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["viewer", "operator", "admin"], default_value = "viewer")]
        role: String,
    },
    /// List keys (never their tokens)
    List,
    /// Revoke a key by id
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the full default config.yaml, every key commented
    Defaults,
    /// Check a configuration file and print it with defaults filled in
    Check,
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    Ok(Config::load(cli.config.as_deref())?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve { pool_size } => {
            let config = load(&cli)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(server::serve(
                config,
                ServeOptions {
                    demo: cli.demo,
                    explicit_config: cli.config.is_some(),
                    demo_pool_size: pool_size.clone(),
                },
            ))?;
        }
        Command::Keys { command } => {
            let mut config = load(&cli)?;
            server::data_dir_for(&mut config, cli.demo, cli.config.is_some());
            let db = server::key_db(&config)?;
            match command {
                KeysCommand::Create { name, role } => {
                    let role = Role::parse(role).expect("clap checked the role");
                    if zoneweaver_agent::keys::routes::validate_key_name(name).is_err() {
                        anyhow::bail!(
                            "--name must be 1 to 64 letters, digits, spaces, '-', '_', '.' or '@'"
                        );
                    }
                    let (key, token) =
                        db.write_blocking(|c| keys::store::create(c, name, role, Some("cli")))?;
                    eprintln!("created key {} ({}, {})", key.id, key.name, key.role);
                    println!("{token}");
                }
                KeysCommand::List => {
                    let list = db.read_blocking(keys::store::list)?;
                    println!(
                        "{:<36}  {:<8}  {:<11}  {:<24}  {:<8}  NAME",
                        "ID", "ROLE", "PREFIX", "CREATED", "STATE"
                    );
                    for k in list {
                        let state = if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{:<36}  {:<8}  {:<11}  {:<24}  {:<8}  {}",
                            k.id, k.role, k.key_prefix, k.created_at, state, k.name
                        );
                    }
                }
                KeysCommand::Revoke { id } => {
                    if !db.write_blocking(|c| keys::store::revoke(c, id))? {
                        anyhow::bail!("no API key {id}");
                    }
                    // A running agent trusts keys it accepted lately until told. Not told, it
                    // may accept the key a while longer: that is a failure a script must see.
                    if let Err(e) = keys::verified::signal_revocation(&config.data_dir, id) {
                        anyhow::bail!(
                            "revoked {id} in the database, but cannot tell a running agent ({}: {e}): \
                             it may accept the key for up to {} s more; revoking again retries",
                            config.data_dir.join(keys::verified::SIGNAL_FILE).display(),
                            keys::verified::MAX_AGE.as_secs()
                        );
                    }
                    println!("revoked {id}");
                }
            }
        }
        Command::Config { command } => match command {
            ConfigCommand::Defaults => print!("{}", config::DEFAULTS_YAML),
            ConfigCommand::Check => {
                let config = load(&cli)?;
                print!("{}", yaml_serde::to_string(&config)?);
            }
        },
        Command::Openapi => print!("{}", zoneweaver_agent::http::openapi::DOCUMENT),
    }
    Ok(())
}
