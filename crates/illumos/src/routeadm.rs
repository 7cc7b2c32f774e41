//! `routeadm`: the global IPv4/IPv6 forwarding and routing switches (reference §1.7).
//!
//! `-e`/`-d` change only the persistent setting; `-u` applies the persistent settings to the
//! running system. The agent always passes both (`routeadm -u -e ipv4-forwarding`), which
//! routeadm applies modifications-first.

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::parsable::ParseError;
use crate::runner::{CommandError, Runner};

/// `no such option/variable X` (reference §1.7).
pub const NO_SUCH_OPTION: &str = "no such option/variable";
/// `cannot connect to SMF repository`.
pub const NO_REPOSITORY: &str = "cannot connect to SMF repository";

/// A routeadm option (the on/off switches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoutingOption {
    Ipv4Routing,
    Ipv6Routing,
    Ipv4Forwarding,
    Ipv6Forwarding,
}

impl RoutingOption {
    pub const ALL: [RoutingOption; 4] = [
        RoutingOption::Ipv4Routing,
        RoutingOption::Ipv6Routing,
        RoutingOption::Ipv4Forwarding,
        RoutingOption::Ipv6Forwarding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoutingOption::Ipv4Routing => "ipv4-routing",
            RoutingOption::Ipv6Routing => "ipv6-routing",
            RoutingOption::Ipv4Forwarding => "ipv4-forwarding",
            RoutingOption::Ipv6Forwarding => "ipv6-forwarding",
        }
    }
}

impl fmt::Display for RoutingOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RoutingOption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoutingOption::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown routeadm option {s:?}"))
    }
}

/// `enabled` / `disabled`. Anything else is a parse error: the agent acts on this value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Toggle {
    Enabled,
    Disabled,
}

impl Toggle {
    pub fn is_enabled(self) -> bool {
        self == Toggle::Enabled
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Toggle::Enabled => "enabled",
            Toggle::Disabled => "disabled",
        }
    }
}

impl From<bool> for Toggle {
    fn from(b: bool) -> Self {
        if b {
            Toggle::Enabled
        } else {
            Toggle::Disabled
        }
    }
}

impl FromStr for Toggle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enabled" => Ok(Toggle::Enabled),
            "disabled" => Ok(Toggle::Disabled),
            other => Err(format!("expected enabled or disabled, found {other:?}")),
        }
    }
}

/// One option line of `routeadm -p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionState {
    pub persistent: Toggle,
    pub default: Toggle,
    pub current: Toggle,
}

/// One variable line of `routeadm -p` (`ipv4-routing-daemon`, `routing-svcs`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableState {
    pub name: String,
    pub persistent: String,
    pub default: String,
}

/// All of `routeadm -p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteadmConfig {
    pub options: Vec<(RoutingOption, OptionState)>,
    pub variables: Vec<VariableState>,
}

impl RouteadmConfig {
    pub fn option(&self, option: RoutingOption) -> Option<OptionState> {
        self.options
            .iter()
            .find(|(o, _)| *o == option)
            .map(|(_, s)| *s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RouteadmFailure {
    #[error("routeadm does not know the option")]
    NoSuchOption,
    #[error("cannot reach the SMF repository")]
    NoRepository,
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Command(CommandError),
}

fn classify(err: CommandError) -> RouteadmFailure {
    let kind = err.stderr().and_then(|s| {
        if s.contains(NO_SUCH_OPTION) {
            Some(RouteadmFailure::NoSuchOption)
        } else if s.contains(NO_REPOSITORY) {
            Some(RouteadmFailure::NoRepository)
        } else {
            None
        }
    });
    kind.unwrap_or(RouteadmFailure::Command(err))
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read routeadm configuration")]
pub struct ShowError {
    #[source]
    pub kind: RouteadmFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set {option} to {}", want.as_str())]
pub struct SetError {
    pub option: RoutingOption,
    pub want: Toggle,
    #[source]
    pub kind: RouteadmFailure,
}

// ---------------------------------------------------------------------------------------------
// Commands.

/// `routeadm -p`: every option and variable.
pub fn show_cmd() -> Cmd {
    Cmd::new(Tool::Routeadm).arg("-p")
}

/// `routeadm -p OPTION`: one line, without the option's name.
pub fn show_option_cmd(option: RoutingOption) -> Cmd {
    Cmd::new(Tool::Routeadm).arg("-p").arg(option.as_str())
}

/// `routeadm -u -e|-d OPTION`: change the persistent setting and apply it now.
pub fn set_cmd(option: RoutingOption, want: Toggle) -> Cmd {
    Cmd::new(Tool::Routeadm)
        .arg("-u")
        .arg(match want {
            Toggle::Enabled => "-e",
            Toggle::Disabled => "-d",
        })
        .arg(option.as_str())
}

/// `routeadm -u`: apply the persistent settings to the running system.
pub fn apply_cmd() -> Cmd {
    Cmd::new(Tool::Routeadm).arg("-u")
}

/// What to run so that `option` is `want` both now and after a reboot, or `None` when it
/// already is. Persistent right but current wrong (someone ran `-e` without `-u`) needs only
/// `-u`.
pub fn ensure_cmd(option: RoutingOption, state: &OptionState, want: Toggle) -> Option<Cmd> {
    match (state.persistent == want, state.current == want) {
        (true, true) => None,
        (true, false) => Some(apply_cmd()),
        (false, _) => Some(set_cmd(option, want)),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers.

/// Splits `key=value` pairs where values may be double-quoted (and then contain spaces).
/// routeadm prints values unescaped; a value cannot contain a `"` as it ends the value.
fn pairs(line: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("expected key=value at {rest:?}"))?;
        let key = &rest[..eq];
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("bad key {key:?}"));
        }
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quote after {key}="))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if !(next.is_empty() || next.starts_with(char::is_whitespace)) {
            return Err(format!("junk after {key}="));
        }
        out.push((key, value));
        rest = next.trim_start();
    }
    Ok(out)
}

fn option_state(pairs: &[(&str, &str)]) -> Result<OptionState, String> {
    let get = |k: &str| -> Result<Toggle, String> {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .ok_or_else(|| format!("no {k}="))?
            .1
            .parse()
    };
    if pairs.len() != 3 {
        return Err(format!("expected 3 values, found {}", pairs.len()));
    }
    Ok(OptionState {
        persistent: get("persistent")?,
        default: get("default")?,
        current: get("current")?,
    })
}

/// Parses `routeadm -p`. Option lines are `NAME persistent=S default=S current=S`; variable
/// lines are `NAME persistent="V" default="V" ` with a trailing space (reference §1.7). An
/// unknown option name (a line with `current=`) is an error; unknown variables are kept.
pub fn parse_show(text: &str) -> Result<RouteadmConfig, ParseError> {
    let mut options = Vec::new();
    let mut variables = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = |r: String| ParseError::new("routeadm -p", line, r);
        let (name, rest) = line
            .split_once(' ')
            .ok_or_else(|| bad("expected a name and values".into()))?;
        let kv = pairs(rest).map_err(bad)?;
        if kv.iter().any(|(k, _)| *k == "current") {
            let option = name.parse().map_err(bad)?;
            options.push((option, option_state(&kv).map_err(bad)?));
        } else {
            let get = |k: &str| {
                kv.iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
                    .ok_or_else(|| bad(format!("no {k}=")))
            };
            variables.push(VariableState {
                name: name.to_owned(),
                persistent: get("persistent")?,
                default: get("default")?,
            });
        }
    }
    Ok(RouteadmConfig { options, variables })
}

/// Parses `routeadm -p OPTION`: `persistent=S default=S current=S`, no name.
pub fn parse_show_option(text: &str) -> Result<OptionState, ParseError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let line = lines
        .next()
        .ok_or_else(|| ParseError::new("routeadm -p OPTION", text, "no output"))?;
    if let Some(extra) = lines.next() {
        return Err(ParseError::new(
            "routeadm -p OPTION",
            extra,
            "expected one line",
        ));
    }
    let bad = |r: String| ParseError::new("routeadm -p OPTION", line, r);
    option_state(&pairs(line).map_err(bad)?).map_err(bad)
}

// ---------------------------------------------------------------------------------------------
// Running.

pub async fn show(run: &Runner) -> Result<RouteadmConfig, ShowError> {
    let out = run
        .output(&show_cmd())
        .await
        .map_err(|e| ShowError { kind: classify(e) })?;
    parse_show(&out.stdout).map_err(|e| ShowError { kind: e.into() })
}

pub async fn show_option(run: &Runner, option: RoutingOption) -> Result<OptionState, ShowError> {
    let out = run
        .output(&show_option_cmd(option))
        .await
        .map_err(|e| ShowError { kind: classify(e) })?;
    parse_show_option(&out.stdout).map_err(|e| ShowError { kind: e.into() })
}

/// Makes `option` be `want` now and across reboots, running only what differs. Returns whether
/// anything was run.
pub async fn ensure(run: &Runner, option: RoutingOption, want: Toggle) -> Result<bool, SetError> {
    let err = |kind| SetError { option, want, kind };
    let state = show_option(run, option).await.map_err(|e| err(e.kind))?;
    match ensure_cmd(option, &state, want) {
        None => Ok(false),
        Some(cmd) => {
            run.output(&cmd).await.map_err(|e| err(classify(e)))?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // reference §1.7, verbatim (note the trailing space on the variable lines)
    const ROUTEADM_P: &str = "ipv4-routing persistent=disabled default=disabled current=disabled
ipv6-routing persistent=disabled default=disabled current=disabled
ipv4-forwarding persistent=enabled default=disabled current=enabled
ipv6-forwarding persistent=disabled default=disabled current=disabled
ipv4-routing-daemon persistent=\"\" default=\"\" 
ipv4-routing-daemon-args persistent=\"\" default=\"\" 
ipv4-routing-stop-cmd persistent=\"\" default=\"\" 
ipv6-routing-daemon persistent=\"\" default=\"\" 
ipv6-routing-daemon-args persistent=\"\" default=\"\" 
ipv6-routing-stop-cmd persistent=\"\" default=\"\" 
routing-svcs persistent=\"route:default ripng:default\" default=\"route:default ripng:default\" 
";

    #[test]
    fn routeadm_p_options_and_variables_with_trailing_space() {
        let cfg = parse_show(ROUTEADM_P).unwrap();
        assert_eq!(cfg.options.len(), 4);
        assert_eq!(
            cfg.option(RoutingOption::Ipv4Forwarding),
            Some(OptionState {
                persistent: Toggle::Enabled,
                default: Toggle::Disabled,
                current: Toggle::Enabled
            })
        );
        assert_eq!(cfg.variables.len(), 7);
        assert_eq!(cfg.variables[0].name, "ipv4-routing-daemon");
        assert_eq!(cfg.variables[0].persistent, "");
        // a quoted value keeps its space
        assert_eq!(cfg.variables[6].persistent, "route:default ripng:default");
    }

    #[test]
    fn routeadm_p_option_prints_no_name() {
        // reference §1.7, verbatim: routeadm -p ipv4-forwarding
        let s = parse_show_option("persistent=enabled default=disabled current=enabled\n").unwrap();
        assert_eq!(s.current, Toggle::Enabled);
        assert_eq!(s.default, Toggle::Disabled);
    }

    #[test]
    fn routeadm_unknown_values_are_errors() {
        assert!(parse_show_option("persistent=on default=disabled current=enabled\n").is_err());
        assert!(parse_show_option("persistent=enabled default=disabled\n").is_err());
        assert!(parse_show_option("").is_err());
        let err =
            parse_show("ipv5-forwarding persistent=enabled default=disabled current=enabled\n")
                .unwrap_err();
        assert!(err.line.starts_with("ipv5"));
        assert!(parse_show("routing-svcs persistent=\"unterminated default=\"\"\n").is_err());
    }

    #[test]
    fn set_argv_matches_the_spec() {
        // spec: pfexec routeadm -u -e ipv4-forwarding
        assert_eq!(
            set_cmd(RoutingOption::Ipv4Forwarding, Toggle::Enabled).argv(),
            ["routeadm", "-u", "-e", "ipv4-forwarding"]
        );
        assert_eq!(
            set_cmd(RoutingOption::Ipv4Forwarding, Toggle::Disabled).argv(),
            ["routeadm", "-u", "-d", "ipv4-forwarding"]
        );
        assert_eq!(show_cmd().argv(), ["routeadm", "-p"]);
        assert_eq!(
            show_option_cmd(RoutingOption::Ipv4Forwarding).argv(),
            ["routeadm", "-p", "ipv4-forwarding"]
        );
    }

    #[test]
    fn ensure_changes_only_what_differs() {
        let st = |p: Toggle, c: Toggle| OptionState {
            persistent: p,
            default: Toggle::Disabled,
            current: c,
        };
        use Toggle::*;
        let o = RoutingOption::Ipv4Forwarding;
        assert_eq!(ensure_cmd(o, &st(Enabled, Enabled), Enabled), None);
        assert_eq!(
            ensure_cmd(o, &st(Enabled, Disabled), Enabled)
                .unwrap()
                .argv(),
            ["routeadm", "-u"]
        );
        assert_eq!(
            ensure_cmd(o, &st(Disabled, Disabled), Enabled)
                .unwrap()
                .argv(),
            ["routeadm", "-u", "-e", "ipv4-forwarding"]
        );
        assert_eq!(
            ensure_cmd(o, &st(Disabled, Enabled), Enabled)
                .unwrap()
                .argv(),
            ["routeadm", "-u", "-e", "ipv4-forwarding"]
        );
        assert_eq!(ensure_cmd(o, &st(Disabled, Disabled), Disabled), None);
        assert_eq!(
            ensure_cmd(o, &st(Enabled, Enabled), Disabled)
                .unwrap()
                .argv(),
            ["routeadm", "-u", "-d", "ipv4-forwarding"]
        );
    }
}
