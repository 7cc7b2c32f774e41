//! Console recipes: what to wait for and what to type on a zone's serial console (`zlogin -C`)
//! to configure it before it is reachable over SSH. The model, its validation, the built-in
//! recipes and `{{variable}}` substitution.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::http::error::ApiError;
use crate::provisioning::settings::{check_guest_path, check_text, check_var_name};

/// One step of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Wait for a regular expression to appear on the console (terminal escapes stripped).
    Wait {
        pattern: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
    },
    /// Type a line (`{{variable}}` substituted); Enter is added.
    Send { text: String },
    /// Type a command, wait for the shell prompt and, unless `check_exit_code` is false, fail
    /// when its exit status is not 0.
    Command {
        command: String,
        #[serde(default = "yes")]
        check_exit_code: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
    },
    /// Write a file in the guest from text (`{{variable}}` substituted in path and content).
    Template { path: String, content: String },
    /// Pause.
    Delay { seconds: u64 },
}

fn yes() -> bool {
    true
}

fn default_login() -> Option<String> {
    Some(r"login:\s*$".into())
}

fn default_password() -> Option<String> {
    Some(r"[Pp]assword:\s*$".into())
}

fn default_shell() -> String {
    r"[#$]\s*$".into()
}

fn default_timeout() -> u64 {
    300
}

/// A recipe as written by a client (and stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeBody {
    pub name: String,
    /// `linux`, `illumos`, `bsd`, ... (filter with `GET /provisioning/recipes?os_family=`).
    pub os_family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A regular expression the boot shows (optional; attaching after the boot is fine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_string: Option<String>,
    /// The login prompt; `null` for a recipe that does not log in.
    #[serde(default = "default_login")]
    pub login_prompt: Option<String>,
    #[serde(default = "default_password")]
    pub password_prompt: Option<String>,
    /// The shell prompt, matched at the end of what the console has shown.
    #[serde(default = "default_shell")]
    pub shell_prompt: String,
    /// The whole console session's limit.
    #[serde(default = "default_timeout", alias = "timeout")]
    pub timeout_seconds: u64,
    /// Default values of variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// A command the wait-for-SSH stage runs in the guest until it succeeds
    /// (`cloud-init status --wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_ready_command: Option<String>,
    pub steps: Vec<Step>,
}

/// A recipe as served.
#[derive(Debug, Clone, Serialize)]
pub struct Recipe {
    pub id: String,
    /// Built-in recipes cannot be changed or deleted.
    pub builtin: bool,
    #[serde(flatten)]
    pub body: RecipeBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// Written out rather than derived: the derived schema of the flattened body would carry the
/// body's `additionalProperties: false` (from `deny_unknown_fields`) into an `allOf`, which no
/// served recipe, having an `id`, could match. Here it is one object: the body's properties and
/// the served ones.
impl PartialSchema for Recipe {
    fn schema() -> RefOr<Schema> {
        let mut obj = match RecipeBody::schema() {
            RefOr::T(Schema::Object(obj)) => obj,
            other => return other,
        };
        let prop = |ty, description: &str| {
            ObjectBuilder::new()
                .schema_type(ty)
                .description((!description.is_empty()).then(|| description.to_owned()))
                .into()
        };
        obj.description = Some("A recipe as served.".into());
        obj.additional_properties = None;
        obj.properties.insert("id".into(), prop(Type::String, ""));
        let builtin = prop(
            Type::Boolean,
            "Built-in recipes cannot be changed or deleted.",
        );
        obj.properties.insert("builtin".into(), builtin);
        obj.properties
            .insert("created_at".into(), prop(Type::String, ""));
        obj.properties
            .insert("updated_at".into(), prop(Type::String, ""));
        obj.required.extend(["id".to_owned(), "builtin".to_owned()]);
        RefOr::T(Schema::Object(obj))
    }
}

impl ToSchema for Recipe {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        RecipeBody::schemas(schemas);
    }
}

impl RecipeBody {
    /// True when there is nothing to do on the console (the recipe only waits, elsewhere).
    pub fn skips_console(&self) -> bool {
        self.login_prompt.is_none() && self.boot_string.is_none() && self.steps.is_empty()
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        let ok_name = !self.name.trim().is_empty() && self.name.len() <= 64;
        if !ok_name {
            return Err(ApiError::invalid("name", "name must be 1 to 64 characters"));
        }
        check_text("name", &self.name, 64)?;
        let family_ok = !self.os_family.is_empty()
            && self.os_family.len() <= 32
            && self
                .os_family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !family_ok {
            return Err(ApiError::invalid(
                "os_family",
                "os_family must be lower-case letters, digits, - and _",
            ));
        }
        if let Some(d) = &self.description {
            check_text("description", d, 1024)?;
        }
        for (field, re) in [
            ("boot_string", self.boot_string.as_deref()),
            ("login_prompt", self.login_prompt.as_deref()),
            ("password_prompt", self.password_prompt.as_deref()),
            ("shell_prompt", Some(self.shell_prompt.as_str())),
        ] {
            if let Some(re) = re {
                compile(field, re)?;
            }
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 24 * 3600 {
            return Err(ApiError::invalid(
                "timeout_seconds",
                "timeout_seconds must be 1 to 86400",
            ));
        }
        for (k, v) in &self.variables {
            check_var_name(&format!("variables.{k}"), k)?;
            check_text(&format!("variables.{k}"), v, 1024)?;
        }
        if let Some(c) = &self.ssh_ready_command {
            check_text("ssh_ready_command", c, 1024)?;
        }
        if self.steps.len() > 200 {
            return Err(ApiError::invalid("steps", "at most 200 steps"));
        }
        for (i, s) in self.steps.iter().enumerate() {
            let f = |x: &str| format!("steps[{i}].{x}");
            match s {
                Step::Wait {
                    pattern,
                    timeout_seconds,
                } => {
                    compile(&f("pattern"), pattern)?;
                    check_step_timeout(&f("timeout_seconds"), *timeout_seconds)?;
                }
                Step::Send { text } => {
                    if text.len() > 4096 || text.contains('\0') {
                        return Err(ApiError::invalid(
                            f("text"),
                            "text: at most 4096 bytes, no NUL",
                        ));
                    }
                }
                Step::Command {
                    command,
                    timeout_seconds,
                    ..
                } => {
                    check_text(&f("command"), command, 4096)?;
                    if command.trim().is_empty() {
                        return Err(ApiError::invalid(f("command"), "command is empty"));
                    }
                    check_step_timeout(&f("timeout_seconds"), *timeout_seconds)?;
                }
                Step::Template { path, content } => {
                    check_text(&f("path"), path, 1024)?;
                    if content.len() > 64 * 1024
                        || content
                            .chars()
                            .any(|c| c.is_control() && c != '\n' && c != '\t')
                    {
                        return Err(ApiError::invalid(
                            f("content"),
                            "content: at most 64 KiB of text (no control characters but newline and tab)",
                        ));
                    }
                }
                Step::Delay { seconds } => {
                    if *seconds > 3600 {
                        return Err(ApiError::invalid(f("seconds"), "seconds: at most 3600"));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_step_timeout(field: &str, t: Option<u64>) -> Result<(), ApiError> {
    match t {
        Some(0) => Err(ApiError::invalid(
            field,
            "timeout_seconds must be at least 1",
        )),
        Some(n) if n > 24 * 3600 => Err(ApiError::invalid(field, "timeout_seconds: at most 86400")),
        _ => Ok(()),
    }
}

/// Compiles a recipe's regular expression with a size limit (a hostile pattern cannot blow up
/// the agent's memory).
pub fn compile(field: &str, re: &str) -> Result<Regex, ApiError> {
    if re.len() > 1024 {
        return Err(ApiError::invalid(
            field,
            format!("{field}: at most 1024 bytes"),
        ));
    }
    regex::RegexBuilder::new(re)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ApiError::invalid(field, format!("{field} is not a regular expression: {e}")))
}

/// Replaces `{{name}}` (blanks inside the braces allowed) with the variable's value; returns the
/// text and the names that had no value (left as written).
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        if !missing.iter().any(|m| m == name) {
                            missing.push(name.to_owned());
                        }
                        out.push_str(&rest[start..start + 2 + end + 2]);
                    }
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, missing)
}

/// A step with its variables substituted, as a dry run shows it and the engine runs it.
pub fn resolve_steps(
    steps: &[Step],
    vars: &BTreeMap<String, String>,
) -> Result<(Vec<Step>, Vec<String>), ApiError> {
    let mut missing: Vec<String> = Vec::new();
    let mut sub = |t: &str| {
        let (s, m) = substitute(t, vars);
        for x in m {
            if !missing.contains(&x) {
                missing.push(x);
            }
        }
        s
    };
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        out.push(match s {
            Step::Wait {
                pattern,
                timeout_seconds,
            } => Step::Wait {
                pattern: pattern.clone(),
                timeout_seconds: *timeout_seconds,
            },
            Step::Send { text } => Step::Send { text: sub(text) },
            Step::Command {
                command,
                check_exit_code,
                timeout_seconds,
            } => Step::Command {
                command: sub(command),
                check_exit_code: *check_exit_code,
                timeout_seconds: *timeout_seconds,
            },
            Step::Template { path, content } => Step::Template {
                path: sub(path),
                content: sub(content),
            },
            Step::Delay { seconds } => Step::Delay { seconds: *seconds },
        });
    }
    if missing.is_empty() {
        for (i, s) in out.iter().enumerate() {
            match s {
                Step::Template { path, .. } => {
                    check_guest_path(&format!("steps[{i}].path"), path)?;
                }
                Step::Command { command, .. } => {
                    check_text(&format!("steps[{i}].command"), command, 4096)?;
                }
                Step::Send { text } if text.contains('\0') => {
                    return Err(ApiError::invalid(format!("steps[{i}].text"), "NUL in text"));
                }
                _ => {}
            }
        }
    }
    Ok((out, missing))
}

const NETPLAN: &str = "network:\n  version: 2\n  ethernets:\n    {{vnic_name}}:\n      dhcp4: false\n      addresses: [{{ip}}/{{prefix}}]\n      routes:\n        - to: default\n          via: {{gateway}}\n      nameservers:\n        addresses: [{{dns}}]\n";

fn cmd(c: &str) -> Step {
    Step::Command {
        command: c.into(),
        check_exit_code: true,
        timeout_seconds: None,
    }
}

fn cmd_unchecked(c: &str) -> Step {
    Step::Command {
        command: c.into(),
        check_exit_code: false,
        timeout_seconds: None,
    }
}

/// The steps that let the agent in over SSH with its provisioning key.
fn ssh_key_steps() -> Vec<Step> {
    vec![
        cmd_unchecked("mkdir -p ~/.ssh && chmod 700 ~/.ssh"),
        cmd("echo '{{ssh_public_key}}' >> ~/.ssh/authorized_keys"),
        cmd_unchecked("chmod 600 ~/.ssh/authorized_keys"),
    ]
}

fn base(name: &str, os_family: &str, description: &str, steps: Vec<Step>) -> RecipeBody {
    RecipeBody {
        name: name.into(),
        os_family: os_family.into(),
        description: Some(description.into()),
        boot_string: None,
        login_prompt: default_login(),
        password_prompt: default_password(),
        shell_prompt: default_shell(),
        timeout_seconds: default_timeout(),
        variables: BTreeMap::from([("vnic_name".to_owned(), "eth0".to_owned())]),
        ssh_ready_command: None,
        steps,
    }
}

/// The built-in recipes, by id (their id is their name).
pub fn builtins() -> Vec<Recipe> {
    let mut debian = vec![Step::Template {
        path: "/etc/netplan/99-zoneweaver.yaml".into(),
        content: NETPLAN.into(),
    }];
    debian.push(cmd("netplan apply || systemctl restart systemd-networkd"));
    debian.extend(ssh_key_steps());
    let mut omnios = base(
        "omnios-dladm",
        "illumos",
        "OmniOS guest: static address with ipadm, default route, resolver, SSH key",
        vec![
            cmd("ipadm create-if {{vnic_name}} || true"),
            cmd("ipadm create-addr -T static -a {{ip}}/{{prefix}} {{vnic_name}}/v4"),
            cmd("route -p add default {{gateway}}"),
            Step::Template {
                path: "/etc/resolv.conf".into(),
                content: "nameserver {{dns}}\n".into(),
            },
            cmd("cp /etc/nsswitch.dns /etc/nsswitch.conf"),
        ],
    );
    omnios.steps.extend(ssh_key_steps());
    omnios.variables.insert("vnic_name".into(), "vioif0".into());
    let mut ifconfig = vec![
        cmd("ifconfig {{vnic_name}} {{ip}}/{{prefix}} up"),
        cmd("route add default gw {{gateway}} || ip route add default via {{gateway}}"),
        Step::Template {
            path: "/etc/resolv.conf".into(),
            content: "nameserver {{dns}}\n".into(),
        },
    ];
    ifconfig.extend(ssh_key_steps());
    let mut cloud = base(
        "cloud-init-wait",
        "linux",
        "No console work: cloud-init configures the guest (network, sshkey); the pipeline waits for SSH and for cloud-init to finish",
        Vec::new(),
    );
    cloud.login_prompt = None;
    cloud.password_prompt = None;
    cloud.ssh_ready_command = Some("cloud-init status --wait".into());
    cloud.variables.clear();
    [
        base(
            "debian-netplan",
            "linux",
            "Debian/Ubuntu guest: static address with netplan, SSH key",
            debian,
        ),
        omnios,
        cloud,
        base(
            "linux-ifconfig",
            "linux",
            "Any Linux guest: static address with ifconfig/route, resolver, SSH key",
            ifconfig,
        ),
    ]
    .into_iter()
    .map(|body| Recipe {
        id: body.name.clone(),
        builtin: true,
        body,
        created_at: None,
        updated_at: None,
    })
    .collect()
}

pub fn builtin(id: &str) -> Option<Recipe> {
    builtins().into_iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn substitution_fills_known_names_and_reports_the_rest() {
        let (s, missing) = substitute(
            "ip {{ip}}/{{ prefix }} via {{gateway}} {{ip}} {{",
            &vars(&[("ip", "10.0.0.5"), ("prefix", "24")]),
        );
        assert_eq!(s, "ip 10.0.0.5/24 via {{gateway}} 10.0.0.5 {{");
        assert_eq!(missing, ["gateway"]);
    }

    #[test]
    fn a_value_is_not_substituted_again() {
        let (s, missing) = substitute("{{a}}", &vars(&[("a", "{{b}}"), ("b", "x")]));
        assert_eq!((s.as_str(), missing.len()), ("{{b}}", 0));
    }

    #[test]
    fn only_name_os_family_and_steps_are_required() {
        let r: RecipeBody =
            serde_json::from_value(json!({"name": "n", "os_family": "linux", "steps": []}))
                .unwrap();
        r.validate().unwrap();
        assert_eq!(r.login_prompt.as_deref(), Some(r"login:\s*$"));
        assert_eq!(r.timeout_seconds, 300);
        let r: RecipeBody = serde_json::from_value(json!({"name": "n", "os_family": "linux",
            "login_prompt": null, "steps": []}))
        .unwrap();
        assert!(r.skips_console());
    }

    #[test]
    fn steps_parse_by_type() {
        let r: RecipeBody =
            serde_json::from_value(json!({"name": "n", "os_family": "linux", "steps": [
                {"type": "wait", "pattern": "ready", "timeout_seconds": 5},
                {"type": "send", "text": "hello {{x}}"},
                {"type": "command", "command": "true"},
                {"type": "template", "path": "/etc/{{f}}", "content": "a\n"},
                {"type": "delay", "seconds": 1}
            ]}))
            .unwrap();
        r.validate().unwrap();
        assert!(matches!(
            r.steps[2],
            Step::Command {
                check_exit_code: true,
                ..
            }
        ));
        let err = serde_json::from_value::<RecipeBody>(json!({"name": "n", "os_family": "linux",
            "steps": [{"type": "reboot"}]}));
        assert!(err.is_err());
    }

    #[test]
    fn bad_regexes_and_paths_are_named() {
        let r: RecipeBody = serde_json::from_value(json!({"name": "n", "os_family": "linux",
            "steps": [{"type": "wait", "pattern": "(unclosed"}]}))
        .unwrap();
        assert_eq!(
            r.validate().unwrap_err().field.as_deref(),
            Some("steps[0].pattern")
        );
        let steps = vec![Step::Template {
            path: "/etc/{{f}}".into(),
            content: String::new(),
        }];
        let err = resolve_steps(&steps, &vars(&[("f", "x; rm -rf /")])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("steps[0].path"));
    }

    #[test]
    fn builtins_are_valid_and_resolve_with_the_network_variables() {
        let all = builtins();
        let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "debian-netplan",
                "omnios-dladm",
                "cloud-init-wait",
                "linux-ifconfig"
            ]
        );
        let v = vars(&[
            ("vnic_name", "eth0"),
            ("ip", "10.190.190.10"),
            ("prefix", "24"),
            ("gateway", "10.190.190.1"),
            ("dns", "8.8.8.8"),
            ("ssh_public_key", "ssh-ed25519 AAAA agent"),
        ]);
        for r in &all {
            r.body.validate().unwrap();
            let (_, missing) = resolve_steps(&r.body.steps, &v).unwrap();
            assert!(missing.is_empty(), "{}: {missing:?}", r.id);
        }
        assert!(builtin("cloud-init-wait").unwrap().body.skips_console());
    }
}
