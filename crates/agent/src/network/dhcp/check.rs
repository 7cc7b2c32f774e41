//! `dhcpd -t -cf FILE`: ISC dhcpd's own check of a configuration before it replaces the live
//! one. dhcpd is optional on the host and not an illumos tool, so it is run here, not through
//! the illumos runner: argv only, a cleared environment, its own process group, a timeout.
//! When the configured binary is absent the check is skipped with a warning.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Valid,
    /// No dhcpd binary at the configured path.
    Skipped,
}

/// Runs the check on `file` (a path on the agent's own file system). `Err` carries dhcpd's
/// complaint, trimmed of its banner.
pub async fn check(dhcpd: &Path, file: &Path) -> Result<Checked, String> {
    if !dhcpd.is_file() {
        tracing::warn!(dhcpd = %dhcpd.display(), "dhcpd not found; skipping the configuration check");
        return Ok(Checked::Skipped);
    }
    let mut cmd = tokio::process::Command::new(dhcpd);
    cmd.arg("-t")
        .arg("-4")
        .arg("-cf")
        .arg(file)
        .env_clear()
        .env("PATH", "/usr/bin:/usr/sbin:/sbin:/bin")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .map_err(|_| "dhcpd -t did not finish within 30s".to_owned())?
        .map_err(|e| format!("cannot run {}: {e}", dhcpd.display()))?;
    if out.status.success() {
        return Ok(Checked::Valid);
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(complaint(&text))
}

/// dhcpd prints a banner, the error with the offending line and a caret, then a long
/// "please report" footer; keep the lines between.
fn complaint(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            !(l.starts_with("Internet Systems Consortium")
                || l.starts_with("Copyright")
                || l.starts_with("All rights reserved")
                || l.starts_with("For info, please visit")
                || l.starts_with("This version of ISC DHCP")
                || l.starts_with("If you think you have received")
                || l.starts_with("than a configuration issue")
                || l.starts_with("bugs on either our web page")
                || l.starts_with("before submitting a bug")
                || l.starts_with("process and the information we find helpful")
                || l.starts_with("the README file")
                || l.starts_with("exiting.")
                || l.contains("-- please report"))
        })
        .take(6)
        .collect();
    format!("dhcpd -t rejected the configuration: {}", lines.join(" | "))
}
