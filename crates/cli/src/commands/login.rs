//! `zw login` (trust on first use, after showing the fingerprint) and `zw hosts`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};

use crate::cli::{HostsCmd, LoginArgs};
use crate::client::{ApiError, Client};
use crate::config::{self, Config, Host, Target};
use crate::output::{Cell, Table, Ui};
use crate::tls::display_fingerprint;

pub fn login(global_host: &Option<String>, args: LoginArgs, ui: &Ui) -> Result<()> {
    if args.api_key.is_some() {
        bail!(
            "--api-key is not taken: on the command line the key is visible to every user of \
             this machine (ps). Pipe it on standard input (zw login URL < keyfile), type it when \
             asked, or set ZW_API_KEY"
        );
    }
    let url = config::normalize_url(&args.url)?;
    let name = args
        .name
        .or_else(|| global_host.clone())
        .unwrap_or_else(|| "default".to_owned());
    let path = config::path()?;
    let mut cfg = Config::load(&path)?;
    let previous = cfg.hosts.get(&name).cloned();

    let fingerprint = if url.starts_with("https://") {
        // Only /health, which needs no key, goes over the unverified connection.
        let probe = Client::new(
            &Target {
                name: Some(name.clone()),
                url: url.clone(),
                api_key: None,
                fingerprint: None,
            },
            true,
        )?;
        probe
            .get("/health")
            .with_context(|| format!("cannot reach the agent at {url}"))?;
        let seen = probe
            .seen_fingerprint()
            .context("the agent presented no certificate")?;
        let known = previous
            .as_ref()
            .filter(|h| h.url == url)
            .and_then(|h| h.fingerprint.clone());
        match known {
            Some(k) if k == seen => {}
            other => {
                if let Some(old) = other {
                    eprintln!(
                        "{}",
                        ui.paint(
                            "WARNING: the agent's certificate is not the one pinned for this host.",
                            Some(crate::output::Paint::Red)
                        )
                    );
                    eprintln!("  pinned:    SHA-256 {}", display_fingerprint(&old));
                }
                eprintln!("The agent at {url} presented a certificate with fingerprint");
                eprintln!("  SHA-256 {}", display_fingerprint(&seen));
                eprintln!(
                    "Compare it on the agent's host: openssl x509 -noout -fingerprint -sha256 \
                     -in /var/lib/zoneweaver-agent/tls/agent.crt\n(DATA_DIR/tls/agent.crt for another data_dir)"
                );
                if !args.yes && !confirm("Trust and pin this certificate?")? {
                    bail!("certificate not accepted; nothing was stored (--yes accepts it)");
                }
            }
        }
        Some(seen)
    } else {
        eprintln!("warning: {url} is not HTTPS: the API key will cross the network in clear");
        None
    };

    let api_key = match std::env::var("ZW_API_KEY").ok().filter(|k| !k.is_empty()) {
        Some(k) => k,
        None => read_key()?,
    };
    let host = Host {
        url: url.clone(),
        api_key,
        fingerprint,
    };
    // The key is checked over the pinned connection before anything is stored.
    let client = Client::new(
        &Target {
            name: Some(name.clone()),
            url: url.clone(),
            api_key: Some(host.api_key.clone()),
            fingerprint: host.fingerprint.clone(),
        },
        false,
    )?;
    if let Err(e) = client.get("/tasks?limit=1") {
        if let Some(api) = e.downcast_ref::<ApiError>() {
            if api.status == 401 || api.status == 403 {
                bail!("the agent refused the API key: {}", api.message);
            }
        }
        return Err(e.context("checking the API key"));
    }
    cfg.hosts.insert(name.clone(), host.clone());
    if cfg
        .default_host
        .as_ref()
        .is_none_or(|d| !cfg.hosts.contains_key(d))
    {
        cfg.default_host = Some(name.clone());
    }
    cfg.save(&path)?;
    let pin = host
        .fingerprint
        .as_deref()
        .map(|f| format!(", certificate SHA-256 {} pinned", display_fingerprint(f)))
        .unwrap_or_default();
    println!("Logged in to {url} as host {name:?}{pin}");
    println!("Saved to {}", path.display());
    Ok(())
}

/// Asks on the terminal; without one, the answer is no.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// The key from the terminal without echo, or the first line of a piped standard input.
fn read_key() -> Result<String> {
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("API key: ").context("reading the API key")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the API key from standard input")?;
        line
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        bail!("no API key given (ZW_API_KEY, standard input, or type it when asked)");
    }
    Ok(key)
}

pub fn hosts(cmd: HostsCmd, json: bool, ui: &Ui) -> Result<()> {
    let path = config::path()?;
    let mut cfg = Config::load(&path)?;
    match cmd {
        HostsCmd::List => {
            if json {
                let hosts: Vec<_> = cfg
                    .hosts
                    .iter()
                    .map(|(n, h)| {
                        serde_json::json!({
                            "name": n, "url": h.url, "fingerprint": h.fingerprint,
                            "default": cfg.default_host.as_deref() == Some(n.as_str()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(hosts));
                return Ok(());
            }
            let mut t = Table::new(["", "NAME", "URL", "SHA-256"]);
            for (n, h) in &cfg.hosts {
                let mark = if cfg.default_host.as_deref() == Some(n.as_str()) {
                    "*"
                } else {
                    ""
                };
                t.row(vec![
                    mark.into(),
                    n.as_str().into(),
                    h.url.as_str().into(),
                    Cell::from(
                        h.fingerprint
                            .as_deref()
                            .map(display_fingerprint)
                            .unwrap_or_else(|| "-".into()),
                    ),
                ]);
            }
            if t.is_empty() {
                println!("(none: zw login URL)");
            } else {
                print!("{}", t.render(ui, 0));
            }
        }
        HostsCmd::Use { name } => {
            if !cfg.hosts.contains_key(&name) {
                bail!("no stored host named {name:?}");
            }
            cfg.default_host = Some(name);
            cfg.save(&path)?;
        }
        HostsCmd::Remove { name } => {
            if cfg.hosts.remove(&name).is_none() {
                bail!("no stored host named {name:?}");
            }
            if cfg.default_host.as_deref() == Some(name.as_str()) {
                cfg.default_host = None;
            }
            cfg.save(&path)?;
        }
    }
    Ok(())
}
