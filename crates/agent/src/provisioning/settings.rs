//! A zone's provisioning settings (`provisioning` in `PUT /zones/{name}`): their shape, the
//! rules every field must follow before it can reach a command line, a console or a file, and
//! the split between what is stored and the secrets kept apart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::http::error::ApiError;

/// What runs in the provision stage when no provisioner says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Shell,
    Ansible,
    AnsibleLocal,
    #[default]
    None,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The account the console recipe logs in as and SSH uses (default `root`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Console login password. Write-only: stored apart, never returned.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// A private key on the agent's host to authenticate with over SSH (default: the agent's
    /// own provisioning key, `provisioning.ssh.key_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_path: Option<String>,
    /// A private key given inline (OpenSSH PEM). Write-only: stored apart, never returned.
    #[serde(default, skip_serializing)]
    pub ssh_private_key: Option<String>,
    /// Set by the agent when a password is stored.
    #[serde(default)]
    pub password_set: bool,
    /// Set by the agent when an inline private key is stored.
    #[serde(default)]
    pub ssh_private_key_set: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncFolder {
    /// `provisioning_dataset`, or `provisioning_dataset/SUBDIR`: never any other host path.
    pub source: String,
    /// Absolute path in the guest.
    pub dest: String,
    /// rsync exclude patterns.
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Provisioner {
    /// A script from the artifact (`script`, relative to it) or `inline` text, fed to `sh` in
    /// the guest over SSH.
    Shell {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inline: Option<String>,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// `ansible-playbook` on the host against the zone; `playbook` is relative to the artifact.
    Ansible {
        playbook: String,
        #[serde(default)]
        #[schema(value_type = Object)]
        extra_vars: serde_json::Map<String, Value>,
        #[serde(default)]
        collections: Vec<String>,
    },
    /// `ansible-playbook -c local` in the guest (installed there when missing); `playbook` is
    /// a guest path.
    AnsibleLocal {
        playbook: String,
        #[serde(default)]
        #[schema(value_type = Object)]
        extra_vars: serde_json::Map<String, Value>,
        #[serde(default)]
        collections: Vec<String>,
    },
}

/// The provisioning settings of a zone, as accepted and as stored (secrets aside).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A console recipe: a built-in id (`debian-netplan`, ...) or a recipe's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_id: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// The uploaded artifact extracted into the zone's provisioning dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    #[serde(default)]
    pub credentials: Credentials,
    #[serde(default)]
    pub sync_folders: Vec<SyncFolder>,
    #[serde(default)]
    pub provisioners: Vec<Provisioner>,
    /// Variables for recipes and provisioners (`ip`, `gateway`, `vnic_name`, ...). `ip` is the
    /// address the pipeline reaches the guest at.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, Value>,
    /// The guest's SSH port.
    #[serde(default = "default_port")]
    pub ssh_port: u16,
    /// Remove the provisioning NIC when the pipeline ends.
    #[serde(default)]
    pub remove_provisioning_nic: bool,
}

fn default_port() -> u16 {
    22
}

/// Secrets split out of the settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_private_key: Option<String>,
}

const MAX_TEXT: usize = 1024;

fn bad(field: impl Into<String>, msg: impl Into<String>) -> ApiError {
    ApiError::invalid(field, msg)
}

/// No control characters (a newline would end a console line or a config line early).
pub fn check_text(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.len() > max {
        return Err(bad(field, format!("{field} is longer than {max} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(bad(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// A login name as useradd accepts it.
pub fn check_username(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("{field} must be a login name (a-z, 0-9, _ . -, starting with a letter or _)"),
        ))
    }
}

/// Characters a path may hold when it is handed to a remote shell or rsync: no blanks, quotes,
/// `$`, backquotes or other shell syntax.
fn safe_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._/-+@=,:".contains(c)
}

/// An absolute path in the guest.
pub fn check_guest_path(field: &str, s: &str) -> Result<(), ApiError> {
    if !s.starts_with('/') || s.len() > 1024 {
        return Err(bad(
            field,
            format!("{field} must be an absolute guest path"),
        ));
    }
    if !s.chars().all(safe_path_char) {
        return Err(bad(
            field,
            format!("{field} may hold only letters, digits and . _ / - + @ = , :"),
        ));
    }
    if s.split('/').any(|c| c == "..") {
        return Err(bad(field, format!("{field} must not contain '..'")));
    }
    Ok(())
}

/// A path inside the artifact (the provisioning dataset): relative, no `..`.
pub fn check_relative(field: &str, s: &str) -> Result<(), ApiError> {
    if s.is_empty() || s.starts_with('/') || s.len() > 1024 {
        return Err(bad(
            field,
            format!("{field} must be a relative path inside the artifact"),
        ));
    }
    if !s.chars().all(safe_path_char) || s.starts_with('-') {
        return Err(bad(
            field,
            format!("{field} may hold only letters, digits and . _ / - + @ = , :"),
        ));
    }
    if s.split('/').any(|c| c == "..") {
        return Err(bad(field, format!("{field} must not contain '..'")));
    }
    Ok(())
}

/// An absolute path on the agent's host (a key file): no `..`, no blanks.
pub fn check_host_path(field: &str, s: &str) -> Result<(), ApiError> {
    if !s.starts_with('/') || s.len() > 1024 || !s.chars().all(safe_path_char) {
        return Err(bad(
            field,
            format!(
                "{field} must be an absolute host path of letters, digits and . _ / - + @ = , :"
            ),
        ));
    }
    if s.split('/').any(|c| c == "..") {
        return Err(bad(field, format!("{field} must not contain '..'")));
    }
    Ok(())
}

pub fn check_var_name(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("{field}: variable names are letters, digits and _, not starting with a digit"),
        ))
    }
}

/// A collection name as ansible-galaxy takes it: `namespace.name`.
fn check_collection(field: &str, s: &str) -> Result<(), ApiError> {
    let part = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match s.split_once('.') {
        Some((a, b)) if part(a) && part(b) && s.len() <= 128 => Ok(()),
        _ => Err(bad(field, format!("{field} must be namespace.name"))),
    }
}

/// The collections and extra vars of an `ansible` or `ansible_local` provisioner.
///
/// Only collections on the host's allow-list (`provisioning.ansible.collections`) may be
/// named: installing one runs its code on the controller. Extra vars are the highest
/// precedence Ansible has, so an `ansible_*` key there would override how and where the play
/// connects (`ansible_connection: local`, `ansible_ssh_common_args`, `ansible_become_exe`, ...):
/// such keys are refused; a playbook may still set its own `vars:`.
fn check_playbook_vars(
    field: &str,
    extra_vars: &serde_json::Map<String, Value>,
    collections: &[String],
    allowed: &[String],
) -> Result<(), ApiError> {
    if collections.len() > 32 {
        return Err(bad(
            format!("{field}.collections"),
            "at most 32 collections",
        ));
    }
    for (i, c) in collections.iter().enumerate() {
        let f = format!("{field}.collections[{i}]");
        check_collection(&f, c)?;
        if !allowed.contains(c) {
            return Err(bad(
                &f,
                format!("collection {c} is not in the host's allow-list (provisioning.ansible.collections)"),
            ));
        }
    }
    for k in extra_vars.keys() {
        if k.to_ascii_lowercase().starts_with("ansible_") {
            return Err(bad(
                format!("{field}.extra_vars.{k}"),
                format!("extra_vars must not set Ansible's own variables ({k}); set them in the playbook"),
            ));
        }
    }
    Ok(())
}

/// What replaces a value that may be a secret where it is shown.
pub const REDACTED: &str = "(redacted)";

/// Redacts, in provisioning settings as JSON, the provisioners' values that may carry secrets
/// (tokens in `env`, `args`, `extra_vars`, an `inline` script): each value becomes
/// [`REDACTED`]; names and shapes stay, so a reader still sees what runs.
pub fn redact(settings: &mut Value) {
    let Some(list) = settings
        .get_mut("provisioners")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for pr in list {
        if let Some(t) = pr.get_mut("inline") {
            *t = REDACTED.into();
        }
        if let Some(args) = pr.get_mut("args").and_then(Value::as_array_mut) {
            args.iter_mut().for_each(|a| *a = REDACTED.into());
        }
        for key in ["env", "extra_vars"] {
            if let Some(m) = pr.get_mut(key).and_then(Value::as_object_mut) {
                m.values_mut().for_each(|v| *v = REDACTED.into());
            }
        }
    }
}

/// The values of a provisioner the task log masks: its `env` and `args` values and its
/// `extra_vars` strings. Values shorter than 4 bytes are left alone: masking them would
/// blank every `1` or `on` in the log.
pub fn masked_values(pr: &Provisioner) -> Vec<String> {
    let values: Vec<String> = match pr {
        Provisioner::Shell { args, env, .. } => args.iter().chain(env.values()).cloned().collect(),
        Provisioner::Ansible { extra_vars, .. } | Provisioner::AnsibleLocal { extra_vars, .. } => {
            extra_vars
                .values()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        }
    };
    values.into_iter().filter(|v| v.len() >= 4).collect()
}

/// A variable's value as text (strings as they are, numbers and booleans printed).
pub fn var_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

impl Settings {
    /// Every rule a field must follow; the error names the field (`provisioning.` prefixed).
    /// `collections_allowed`: the host's allow-list of Ansible collections.
    pub fn validate(&self, collections_allowed: &[String]) -> Result<(), ApiError> {
        let p = "provisioning";
        if let Some(r) = &self.recipe_id {
            if !(super::recipes::builtin(r).is_some() || is_uuid(r)) {
                return Err(bad(
                    format!("{p}.recipe_id"),
                    format!("recipe_id {r:?} is neither a built-in recipe nor a recipe id"),
                ));
            }
        }
        if let Some(a) = &self.artifact_id {
            if !is_uuid(a) {
                return Err(bad(
                    format!("{p}.artifact_id"),
                    "artifact_id must be an artifact's id",
                ));
            }
        }
        let c = &self.credentials;
        if let Some(u) = &c.username {
            check_username(&format!("{p}.credentials.username"), u)?;
        }
        if let Some(pw) = &c.password {
            check_text(&format!("{p}.credentials.password"), pw, 256)?;
        }
        if let Some(k) = &c.ssh_key_path {
            check_host_path(&format!("{p}.credentials.ssh_key_path"), k)?;
        }
        if let Some(k) = &c.ssh_private_key {
            if k.len() > 16 * 1024 || !k.trim_start().starts_with("-----BEGIN ") {
                return Err(bad(
                    format!("{p}.credentials.ssh_private_key"),
                    "ssh_private_key must be a PEM private key (at most 16 KiB)",
                ));
            }
        }
        if self.ssh_port == 0 {
            return Err(bad(format!("{p}.ssh_port"), "ssh_port must be 1 to 65535"));
        }
        if self.sync_folders.len() > 32 {
            return Err(bad(format!("{p}.sync_folders"), "at most 32 sync folders"));
        }
        for (i, f) in self.sync_folders.iter().enumerate() {
            let field = format!("{p}.sync_folders[{i}]");
            if f.source != "provisioning_dataset" {
                match f.source.strip_prefix("provisioning_dataset/") {
                    Some(rest) => check_relative(&format!("{field}.source"), rest)?,
                    None => {
                        return Err(bad(
                            format!("{field}.source"),
                            "source must be provisioning_dataset or provisioning_dataset/SUBDIR",
                        ))
                    }
                }
            }
            check_guest_path(&format!("{field}.dest"), &f.dest)?;
            if f.exclude.len() > 64 {
                return Err(bad(format!("{field}.exclude"), "at most 64 patterns"));
            }
            for (j, e) in f.exclude.iter().enumerate() {
                check_text(&format!("{field}.exclude[{j}]"), e, 256)?;
                if e.is_empty() {
                    return Err(bad(format!("{field}.exclude[{j}]"), "empty pattern"));
                }
            }
        }
        if self.provisioners.len() > 64 {
            return Err(bad(format!("{p}.provisioners"), "at most 64 provisioners"));
        }
        for (i, pr) in self.provisioners.iter().enumerate() {
            let field = format!("{p}.provisioners[{i}]");
            match pr {
                Provisioner::Shell {
                    script,
                    inline,
                    args,
                    env,
                } => {
                    match (script, inline) {
                        (Some(s), None) => check_relative(&format!("{field}.script"), s)?,
                        (None, Some(t)) => {
                            if t.len() > 64 * 1024 || t.contains('\0') {
                                return Err(bad(
                                    format!("{field}.inline"),
                                    "inline must be text of at most 64 KiB",
                                ));
                            }
                        }
                        _ => {
                            return Err(bad(
                                field,
                                "a shell provisioner needs exactly one of script and inline",
                            ))
                        }
                    }
                    if args.len() > 64 {
                        return Err(bad(format!("{field}.args"), "at most 64 arguments"));
                    }
                    for (j, a) in args.iter().enumerate() {
                        check_text(&format!("{field}.args[{j}]"), a, MAX_TEXT)?;
                    }
                    for (k, v) in env {
                        check_var_name(&format!("{field}.env.{k}"), k)?;
                        check_text(&format!("{field}.env.{k}"), v, MAX_TEXT)?;
                    }
                }
                Provisioner::Ansible {
                    playbook,
                    extra_vars,
                    collections,
                } => {
                    check_relative(&format!("{field}.playbook"), playbook)?;
                    check_playbook_vars(&field, extra_vars, collections, collections_allowed)?;
                }
                Provisioner::AnsibleLocal {
                    playbook,
                    extra_vars,
                    collections,
                } => {
                    check_guest_path(&format!("{field}.playbook"), playbook)?;
                    check_playbook_vars(&field, extra_vars, collections, collections_allowed)?;
                }
            }
        }
        if self.variables.len() > 256 {
            return Err(bad(format!("{p}.variables"), "at most 256 variables"));
        }
        for (k, v) in &self.variables {
            let field = format!("{p}.variables.{k}");
            check_var_name(&field, k)?;
            let text = var_text(v).ok_or_else(|| {
                bad(
                    &field,
                    format!("{field} must be a string, number or boolean"),
                )
            })?;
            check_text(&field, &text, MAX_TEXT)?;
        }
        if let Some(ip) = self.variables.get("ip").and_then(var_text) {
            if ip.parse::<IpAddr>().is_err() {
                return Err(bad(
                    format!("{p}.variables.ip"),
                    format!("{ip:?} is not an IP address"),
                ));
            }
        }
        Ok(())
    }

    /// The address the pipeline reaches the guest at over SSH. Today that is `variables.ip`;
    /// once the network area exposes the zone's DHCP reservation or lease, this is the one
    /// place to consult it.
    pub fn guest_address(&self) -> Option<IpAddr> {
        self.variables
            .get("ip")
            .and_then(var_text)
            .and_then(|s| s.parse().ok())
    }

    pub fn username(&self) -> &str {
        self.credentials.username.as_deref().unwrap_or("root")
    }

    /// Variables as text.
    pub fn variables_text(&self) -> BTreeMap<String, String> {
        self.variables
            .iter()
            .filter_map(|(k, v)| var_text(v).map(|t| (k.clone(), t)))
            .collect()
    }
}

/// Validates provisioning settings and splits them into what is stored (secrets replaced by
/// `*_set` flags) and the secrets kept apart. A value read back from `GET /zones/{name}` and
/// sent again keeps the stored secrets (its `*_set` flags stay true).
pub fn split(
    p: &Value,
    collections_allowed: &[String],
) -> Result<(Value, Option<Value>), ApiError> {
    if !p.is_object() {
        return Err(bad("provisioning", "provisioning must be an object"));
    }
    let mut settings: Settings = crate::http::extract::parse_json(p.to_string().as_bytes())
        .map_err(|mut e| {
            e.field = Some(match e.field.take() {
                Some(f) => format!("provisioning.{f}"),
                None => "provisioning".into(),
            });
            e
        })?;
    settings.validate(collections_allowed)?;
    let secrets = Secrets {
        password: settings.credentials.password.take(),
        ssh_private_key: settings.credentials.ssh_private_key.take(),
    };
    if secrets.password.is_some() {
        settings.credentials.password_set = true;
    }
    if secrets.ssh_private_key.is_some() {
        settings.credentials.ssh_private_key_set = true;
    }
    let stored = serde_json::to_value(&settings).map_err(ApiError::internal)?;
    let secrets = (secrets.password.is_some() || secrets.ssh_private_key.is_some())
        .then(|| serde_json::to_value(&secrets))
        .transpose()
        .map_err(ApiError::internal)?;
    Ok((stored, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(v: Value) -> String {
        split(&v, &[]).unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn the_specs_example_is_accepted_and_its_secrets_split_out() {
        let (stored, secrets) = split(&json!({
            "recipe_id": "debian-netplan",
            "mode": "ansible_local",
            "artifact_id": "0b7c6c52-4a57-4bd0-9d43-2d2a4b8e6a11",
            "credentials": {"username": "startcloud", "password": "STARTcloud24@!",
                "ssh_key_path": "/etc/zoneweaver-agent/ssh/provision_key"},
            "sync_folders": [{"source": "provisioning_dataset", "dest": "/vagrant", "exclude": []}],
            "provisioners": [{"type": "ansible_local", "playbook": "/vagrant/ansible/playbook.yml",
                "collections": ["startcloud.startcloud_roles"],
                "extra_vars": {"hostname": "web01", "domain": "example.com"}}],
            "variables": {"vnic_name": "eth0", "ip": "10.190.190.10", "gateway": "10.190.190.1", "dns": "8.8.8.8"}
        }), &["startcloud.startcloud_roles".to_owned()])
        .unwrap();
        assert!(!stored.to_string().contains("STARTcloud24"));
        assert_eq!(stored["credentials"]["password_set"], true);
        assert_eq!(secrets.unwrap()["password"], "STARTcloud24@!");
        assert_eq!(stored["ssh_port"], 22);
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(
            field_of(json!({"sync_folders": [{"source": "/etc", "dest": "/x"}]})),
            "provisioning.sync_folders[0].source"
        );
        assert_eq!(
            field_of(
                json!({"sync_folders": [{"source": "provisioning_dataset/../etc", "dest": "/x"}]})
            ),
            "provisioning.sync_folders[0].source"
        );
        assert_eq!(
            field_of(
                json!({"sync_folders": [{"source": "provisioning_dataset", "dest": "/x; rm -rf /"}]})
            ),
            "provisioning.sync_folders[0].dest"
        );
        assert_eq!(
            field_of(json!({"provisioners": [{"type": "shell", "script": "../x.sh"}]})),
            "provisioning.provisioners[0].script"
        );
        assert_eq!(
            field_of(json!({"provisioners": [{"type": "shell"}]})),
            "provisioning.provisioners[0]"
        );
        assert_eq!(
            field_of(
                json!({"provisioners": [{"type": "shell", "inline": "x", "env": {"A B": "1"}}]})
            ),
            "provisioning.provisioners[0].env.A B"
        );
        assert_eq!(
            field_of(
                json!({"provisioners": [{"type": "ansible", "playbook": "p.yml", "collections": ["x"]}]})
            ),
            "provisioning.provisioners[0].collections[0]"
        );
        assert_eq!(
            field_of(json!({"credentials": {"username": "Root;"}})),
            "provisioning.credentials.username"
        );
        assert_eq!(
            field_of(json!({"credentials": {"password": "a\nb"}})),
            "provisioning.credentials.password"
        );
        assert_eq!(
            field_of(json!({"variables": {"ip": "nope"}})),
            "provisioning.variables.ip"
        );
        assert_eq!(
            field_of(json!({"recipe_id": "x"})),
            "provisioning.recipe_id"
        );
        assert_eq!(field_of(json!({"mode": "puppet"})), "provisioning.mode");
        assert_eq!(field_of(json!({"colour": 1})), "provisioning.colour");
    }

    #[test]
    fn redaction_keeps_names_and_hides_every_value() {
        let mut v = json!({"provisioners": [
            {"type": "shell", "inline": "curl -H 'token: s3cr3t'", "args": ["s3cr3t-arg"],
             "env": {"TOKEN": "s3cr3t-env"}},
            {"type": "ansible", "playbook": "p.yml", "extra_vars": {"db_password": "s3cr3t-var"}}
        ], "variables": {"ip": "10.0.0.1"}});
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(v["provisioners"][0]["env"]["TOKEN"], REDACTED);
        assert_eq!(v["provisioners"][1]["extra_vars"]["db_password"], REDACTED);
        assert_eq!(v["provisioners"][1]["playbook"], "p.yml");
        assert_eq!(v["variables"]["ip"], "10.0.0.1");
    }

    #[test]
    fn ansible_own_variables_and_unlisted_collections_are_refused() {
        for ty in ["ansible", "ansible_local"] {
            let playbook = if ty == "ansible" { "p.yml" } else { "/p.yml" };
            assert_eq!(
                field_of(json!({"provisioners": [{"type": ty, "playbook": playbook,
                    "extra_vars": {"ok": 1, "ansible_connection": "local"}}]})),
                "provisioning.provisioners[0].extra_vars.ansible_connection"
            );
            assert_eq!(
                field_of(json!({"provisioners": [{"type": ty, "playbook": playbook,
                    "extra_vars": {"ANSIBLE_SSH_EXECUTABLE": "/bin/sh"}}]})),
                "provisioning.provisioners[0].extra_vars.ANSIBLE_SSH_EXECUTABLE"
            );
            assert_eq!(
                field_of(json!({"provisioners": [{"type": ty, "playbook": playbook,
                    "collections": ["community.general"]}]})),
                "provisioning.provisioners[0].collections[0]"
            );
            let listed = json!({"provisioners": [{"type": ty, "playbook": playbook,
                "collections": ["community.general"]}]});
            assert!(split(&listed, &["community.general".to_owned()]).is_ok());
        }
    }
}
