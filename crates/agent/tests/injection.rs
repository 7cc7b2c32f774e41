//! The injection corpus: shell metacharacters, quotes, line breaks, NUL, zonecfg and dhcpd.conf
//! syntax, `..` and absolute paths, overlong strings, look-alike letters and leading dashes,
//! sent into every string field of every request body, every path parameter and every query
//! parameter the OpenAPI document declares, each inside an otherwise valid request.
//!
//! The rule for a field is refusal (400 naming the field, no host command run) unless the
//! field is free text by design; those are listed in [`rule`] with where their value goes and
//! what proves it got there intact.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{json, Value};

use crate::support::openapi::{self, Operation};
use crate::support::{Response, TestAgent};

/// Hostile values. Each is also sent appended to the field's valid value (`igb0;id`), which
/// gets past checks that only look at the first character.
fn corpus() -> Vec<String> {
    let mut c: Vec<String> = [
        ";id",
        "|id",
        "&id",
        "&&id",
        "$(id)",
        "${IFS}id",
        "`id`",
        "'",
        "\"",
        "\\",
        "\nid",
        "\r\nid",
        "\u{0}",
        "}",
        "{",
        "#",
        " # c",
        "..",
        "../../../etc/passwd",
        "/etc/passwd",
        "-rf",
        "--help",
        " ",
        "\t",
        "*",
        // Look-alikes: fullwidth letters, Cyrillic 'о', a zero-width space, a right-to-left
        // override.
        "ｉｇｂ０",
        "zоne0",
        "a\u{200b}b",
        "\u{202e}a",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    c.push("x".repeat(5000));
    c
}

/// Commands that only read the host. A request refused for a hostile value may run none of the
/// others; a refused body runs nothing at all (checked separately).
fn read_only(argv: &[String]) -> bool {
    let sub = argv.get(1).map(String::as_str).unwrap_or("");
    match argv[0].as_str() {
        "zoneadm" => sub == "list" || (sub == "-z" && argv.get(3).is_some_and(|s| s == "list")),
        "zonecfg" => argv.get(3).is_some_and(|s| s == "info" || s == "export"),
        "dladm" | "ipadm" => sub.starts_with("show"),
        "zfs" => sub == "list" || sub == "get",
        "zpool" => sub == "list" || sub == "iostat",
        "kstat" | "netstat" | "prtconf" | "uname" | "psrinfo" | "pagesize" => true,
        "pptadm" => sub == "list",
        "swap" => sub == "-s",
        "svcs" | "svcprop" => true,
        "routeadm" => sub == "-p",
        "ipnat" => sub == "-l",
        "route" => argv.contains(&"get".to_owned()),
        _ => false,
    }
}

fn argv(inv: &Value) -> Vec<String> {
    inv["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// How a field may treat a hostile value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// Refused: a 400 naming the field, nothing run.
    Refuse,
    /// Free text the agent only stores and shows back (recipe steps are typed on a guest's
    /// console, provisioning scripts and arguments reach the guest shell-quoted by
    /// `provisioning::remote`, key paths are read by the agent itself). If accepted, no
    /// command that changes the host ran and no argv holds the value.
    Stored,
    /// Written into the zone's configuration as a quoted zonecfg `attr` value (through a
    /// command file, never argv). If accepted, the zone is created, no argv holds the value,
    /// and the attr on the host reads back byte for byte (`sshkey`: or the zone's key file
    /// the attr names, read back through the zone's detail).
    ZoneAttr(&'static str),
    /// Parsed into typed values and written from them (DHCP `dns`: addresses, blanks around
    /// each allowed). If accepted, the raw text is on no command line and in no config file.
    Parsed,
    /// Names something that must exist on the host (a CD-ROM to remove, given by its path):
    /// refused with a 400 naming the field, after read-only commands looked.
    Lookup,
    /// A filter of a read: may match nothing (2xx) or be refused; either way no command that
    /// changes the host runs and no argv holds the value.
    Filter,
}

fn rule(op: &str, field: &str) -> Rule {
    match (op, field) {
        ("create_zone" | "modify_zone", "cloud_init.password") => Rule::ZoneAttr("password"),
        ("create_zone" | "modify_zone", "cloud_init.sshkey") => Rule::ZoneAttr("sshkey"),
        ("create_recipe" | "update_recipe", f)
            if f.starts_with("steps[")
                || f.starts_with("variables.")
                || [
                    "description",
                    "boot_string",
                    "login_prompt",
                    "password_prompt",
                    "shell_prompt",
                    "ssh_ready_command",
                ]
                .contains(&f) =>
        {
            Rule::Stored
        }
        ("test_recipe", f) if f.starts_with("variables.") => Rule::Stored,
        ("modify_zone", f)
            if f.starts_with("provisioning.variables.")
                || f == "provisioning.credentials.password"
                || f == "provisioning.credentials.ssh_private_key"
                || f == "provisioning.credentials.ssh_key_path"
                || f.ends_with(".inline")
                || f.contains(".args[")
                || f.contains(".env.")
                || f.contains(".exclude[")
                || f.contains(".extra_vars.")
                // Absolute paths in the guest, by design.
                || f.ends_with(".dest")
                || f == "provisioning.provisioners[3].playbook" =>
        {
            Rule::Stored
        }
        ("modify_zone", "remove_cdroms[0]") => Rule::Lookup,
        ("put_config", "dns") => Rule::Parsed,
        ("upload_artifact", "file") => Rule::Stored,
        // Labels and keywords for people and filters, shown back only.
        ("create_recipe" | "update_recipe", "name" | "os_family") => Rule::Stored,
        // A label for people, shown back only.
        ("create_key", "name") => Rule::Stored,
        // Compared with a WebSocket request's path, never run or written anywhere.
        ("create_ticket", "path") => Rule::Stored,
        // The client's name for its terminal, compared only.
        ("start_terminal", "terminal_cookie") => Rule::Stored,
        _ => Rule::Refuse,
    }
}

/// The fixtures every valid example refers to.
struct Fixtures {
    zone: String,
    recipe: String,
    task: String,
    artifact: String,
}

/// Valid request bodies per operation, each otherwise accepted as it is (checked at the end).
/// Together an operation's examples hold every string field its schema declares, so a new
/// field is injected as soon as it is documented. An operation with a JSON body and no entry
/// here fails the test.
fn examples(op: &str, f: &Fixtures) -> Option<Vec<Value>> {
    let cloud_init = json!({"enabled": "on", "dns_domain": "example.org", "password": "s3cret pw",
        "resolvers": "8.8.8.8,8.8.4.4", "sshkey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me@host"});
    let recipe = json!({
    "name": "inj-recipe", "os_family": "linux", "description": "a recipe",
    "boot_string": "Booting", "login_prompt": "login:", "password_prompt": "Password:",
    "shell_prompt": "[#$] $", "ssh_ready_command": "true", "timeout_seconds": 60,
    "variables": {"who": "root"},
    "steps": [
        {"type": "wait", "pattern": "login:", "timeout_seconds": 5},
        {"type": "send", "text": "root"},
        {"type": "command", "command": "echo hi", "check_exit_code": true},
        {"type": "template", "path": "/etc/motd", "content": "hello {{who}}"},
        {"type": "delay", "seconds": 1}
    ]});
    let examples = match op {
        "create_key" => vec![json!({"name": "inj key", "role": "viewer"})],
        "collect" => vec![json!({"type": "all"})],
        "create_zone" => vec![
            json!({"name": "injz", "brand": "bhyve", "ram": "1G", "vcpus": "2",
                "bootrom": "BHYVE_RELEASE", "diskif": "virtio", "netif": "virtio",
                "hostbridge": "i440fx", "os_type": "generic", "acpi": "on", "vnc": "off",
                "xhci": "on",
                "boot_volume": {"pool": "rpool", "dataset": "zones", "volume_name": "root",
                    "size": "1G", "sparse": true},
                "nics": [{"physical": "injz0", "global_nic": "igb0", "mac_addr": "02:08:20:aa:bb:01",
                    "allowed_address": "10.0.0.5/24", "vlan_id": 10}],
                "cdroms": [{"path": "/iso/inj.iso"}],
                "cloud_init": cloud_init}),
            json!({"name": "injz", "brand": "bhyve",
                "source": {"type": "template", "template_dataset": "rpool/templates/deb@v1",
                    "clone_strategy": "clone"}}),
            json!({"name": "injz", "brand": "bhyve",
                "boot_volume": {"create_new": false, "existing_dataset": "rpool/vols/ex0"}}),
        ],
        "modify_zone" => vec![
            json!({
                "ram": "2G", "vcpus": "2", "bootrom": "BHYVE_RELEASE", "diskif": "virtio",
                "netif": "virtio", "hostbridge": "i440fx", "os_type": "generic", "acpi": "on",
                "vnc": "off", "xhci": "on",
                "add_nics": [{"physical": "injm0", "global_nic": "igb0", "mac_addr": "02:08:20:aa:bb:02",
                    "allowed_address": "10.0.0.6/24", "vlan_id": 11}],
                "remove_nics": ["injbase0"],
                "add_disks": [{"pool": "rpool", "dataset": "zones", "volume_name": "data1",
                    "size": "1G", "sparse": true}],
                "remove_disks": ["disk0"],
                "add_cdroms": [{"path": "/iso/inj.iso"}],
                "remove_cdroms": ["cdrom0"],
                "cloud_init": cloud_init,
                "provisioning": {
                    "recipe_id": "debian-netplan", "mode": "shell", "artifact_id": f.artifact,
                    "credentials": {"username": "admin", "password": "pw", "ssh_key_path": "/etc/zw/key",
                        "ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"},
                    "sync_folders": [{"source": "provisioning_dataset/app", "dest": "/srv/app",
                        "exclude": [".git"]}],
                    "provisioners": [
                        {"type": "shell", "script": "setup.sh", "args": ["one"], "env": {"MODE": "x"}},
                        {"type": "shell", "inline": "echo hi"},
                        {"type": "ansible", "playbook": "site.yml", "collections": ["community.general"],
                            "extra_vars": {"who": "me"}},
                        {"type": "ansible_local", "playbook": "/srv/site.yml",
                            "collections": ["community.general"]}
                    ],
                    "variables": {"ip": "10.190.190.10", "gateway": "10.190.190.1"},
                    "ssh_port": 22
                }
            }),
            json!({"add_disks": [{"create_new": false, "existing_dataset": "rpool/vols/ex1"}]}),
        ],
        "create_task" => vec![
            json!({"operation": "noop", "zone_name": "injz", "depends_on": f.task,
            "duration_ms": 0, "priority": 0}),
        ],
        "put_config" => vec![json!({"subnet": "10.190.190.0", "netmask": "255.255.255.0",
            "router": "10.190.190.1", "range_start": "10.190.190.10", "range_end": "10.190.190.200",
            "dns": "8.8.8.8,8.8.4.4", "listen_interface": "igb0"})],
        "add_host" => vec![
            json!({"hostname": "inj-host.lab", "mac": "02:08:20:ab:cd:01",
            "ip": "10.190.190.20"}),
        ],
        "put_status" => vec![json!({"action": "refresh"})],
        "create_etherstub" => {
            vec![json!({"name": "injstub0", "temporary": false})]
        }
        "create_vlan" => vec![
            json!({"vid": 12, "link": "igb0", "name": "injvlan12", "force": false, "temporary": false}),
        ],
        "create_address" => vec![
            json!({"addrobj": "igb0/inj", "interface": "igb0", "type": "static", "address": "10.0.0.9/24"}),
        ],
        "set_forwarding" => vec![json!({"enabled": true, "interfaces": ["igb0"]})],
        "create_rule" => vec![
            json!({"type": "portmap", "bridge": "igb0", "subnet": "10.190.190.0/24",
                "target": "0/32", "protocol": "tcp/udp"}),
            json!({"type": "rdr", "bridge": "igb0", "external_ip": "192.168.1.10",
                "external_port": 8080, "internal_ip": "10.190.190.10", "internal_port": 80,
                "protocol": "tcp"}),
        ],
        // igb0 passes the agent's checks (its IP interface is dladm's to refuse, in the task).
        "create_aggregate" => vec![
            json!({"name": "injaggr0", "links": ["igb0"], "policy": "L2L3",
            "lacp_mode": "active", "lacp_timer": "long", "unicast_address": "02:08:20:aa:bb:04",
            "temporary": false}),
        ],
        "modify_aggregate_links" => {
            vec![json!({"operation": "remove", "links": ["igb2"], "temporary": false})]
        }
        "create_bridge" => vec![
            json!({"name": "injbr", "protection": "stp", "priority": 32768,
            "max_age": 20, "hello_time": 2, "forward_delay": 15, "force_protocol": 3,
            "links": ["igb0"]}),
        ],
        "modify_bridge_links" => vec![json!({"operation": "add", "links": ["injbrstub0"]})],
        "create_vnic" => vec![json!({"name": "injvnic0", "link": "igb0",
            "mac_address": "02:08:20:aa:bb:03", "vlan_id": 12, "temporary": false,
            "properties": {"maxbw": "100M", "priority": "low", "cpus": "0,1",
                "allowed-ips": "10.0.0.5", "protection": "ip-nospoof"}})],
        "set_hostname" => vec![json!({"hostname": "inj-host", "apply_immediately": false})],
        "create_recipe" => vec![recipe],
        "update_recipe" => vec![{
            let mut r = recipe;
            r["name"] = json!("inj-recipe-2");
            r
        }],
        "test_recipe" => vec![json!({"dry_run": true, "variables": {"who": "me"},
            "zone_name": f.zone})],
        "create_ticket" => vec![json!({"path": "/zlogin/inj-session"})],
        // Host power: the emulated host's stand-in tools record the request.
        "halt" => vec![json!({"confirm": true, "emergency": true})],
        // A plain reboot takes no boot environment: the UI sends it empty.
        "reboot" => vec![json!({"confirm": true, "dump_core": false, "boot_environment": ""})],
        "reboot_fast" => vec![json!({"confirm": true, "boot_environment": "omnios-r151054"})],
        "single_user" => vec![json!({"confirm": true})],
        "restart" | "shutdown" | "poweroff" => {
            vec![json!({"confirm": true, "grace_period": 60, "message": "maintenance"})]
        }
        "set_runlevel" => vec![json!({"confirm": true, "runlevel": "3"})],
        "multi_user" => vec![json!({"confirm": true, "network_services": true})],
        "arc_validate" => vec![json!({"arc_max_gb": 4, "arc_min_gb": 1})],
        "update_arc_config" => vec![
            json!({"apply_method": "persistent", "arc_max_gb": 4, "arc_min_gb": 1, "arc_meta_limit_gb": 1, "arc_meta_min_gb": 0, "prefetch_disable": false, "arc_max_percent": 50, "user_reserve_hint_pct": 0, "vdev_max_pending": 10}),
        ],
        "arc_reset" => vec![json!({"apply_method": "both"})],
        "service_action" => vec![
            json!({"fmri": "svc:/network/ntp:default", "action": "refresh",
            "options": {"temporary": false}}),
        ],
        "start_terminal" => vec![json!({"terminal_cookie": "inj-cookie", "zone_name": f.zone})],
        // Bodies that carry only the requester's note (added below).
        "start_zone" | "stop_zone" | "restart_zone" | "halt_zone" | "setup" => vec![json!({})],
        "test" => vec![json!({"strategy": "sequential"})],
        _ => return None,
    };
    Some(examples)
}

/// A valid value for each path parameter, by name and operation.
fn path_value(op: &Operation, param: &str, f: &Fixtures) -> String {
    match (param, op.path.as_str()) {
        ("name", p) if p.starts_with("/zones") => f.zone.clone(),
        ("name", p) if p.starts_with("/network/vnics") => "injvnic0".into(),
        ("name", p) if p.starts_with("/network/addresses") => "v4".into(),
        ("addrobj", _) => "igb0/v4".into(),
        ("interface", _) => "igb0".into(),
        ("vlan", _) => "injvlan12".into(),
        ("aggregate", _) => "injaggr1".into(),
        ("bridge", _) => "injlab".into(),
        ("name", _) => "injstub0".into(),
        ("id", p) if p.starts_with("/provisioning/recipes") => f.recipe.clone(),
        ("id", p) if p.starts_with("/artifacts") => f.artifact.clone(),
        ("id", _) => f.task.clone(),
        ("hostname", _) => "inj-host.lab".into(),
        ("ruleId", _) => "1".into(),
        ("fmri", _) => "svc:/network/ntp:default".into(),
        ("deviceId", _) => "igb0".into(),
        (p, path) => panic!("no valid value for {p} of {path}: add one here"),
    }
}

/// Every string leaf of a JSON value: (path as the agent names it, value).
fn leaves(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((at.to_owned(), s.clone())),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                let p = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                leaves(x, &p, out);
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &str, new: &str) {
    let mut cur = v;
    for part in path.split('.') {
        let (key, idx) = match part.find('[') {
            Some(i) => (
                &part[..i],
                Some(part[i + 1..part.len() - 1].parse::<usize>().unwrap()),
            ),
            None => (part, None),
        };
        cur = &mut cur[key];
        if let Some(i) = idx {
            cur = &mut cur[i];
        }
    }
    *cur = json!(new);
}

/// `nics[0].physical` → `nics[].physical`, the schema's spelling.
fn generic(path: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for c in path.chars() {
        match c {
            '[' => {
                out.push_str("[]");
                skip = true
            }
            ']' => skip = false,
            _ if !skip => out.push(c),
            _ => {}
        }
    }
    out
}

fn covers(schema_field: &str, leaf: &str) -> bool {
    let leaf = generic(leaf);
    match schema_field.strip_suffix('*') {
        Some(prefix) => leaf.starts_with(prefix),
        None => leaf == schema_field,
    }
}

/// For a value that may be accepted: the example cut down to the part holding the field, so
/// repeating it (a modify that removes a NIC, a create with a fixed VNIC name) stays valid.
fn isolate(op: &str, field: &str, example: &Value) -> Value {
    let top = field.split(['.', '[']).next().unwrap();
    match op {
        "modify_zone" => json!({ top: example[top] }),
        "create_zone" => {
            json!({"name": example["name"], "brand": example["brand"], top: example[top]})
        }
        _ => example.clone(),
    }
}

/// The zone's `attr` value on the emulated host.
fn zone_attr(agent: &TestAgent, zone: &str, attr: &str) -> Option<String> {
    let dump = crate::support::dump(agent);
    dump["zones"][zone]["cfg"]["resources"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == "attr" && r["props"]["name"] == attr)
        .and_then(|r| r["props"]["value"].as_str().map(str::to_owned))
}

/// What a request may not change when it is refused: the commands run so far and the config
/// files the agent edits itself (no command shows those).
struct Before {
    commands: usize,
    files: Vec<Option<Vec<u8>>>,
}

impl Before {
    fn take(agent: &TestAgent) -> Before {
        Before {
            commands: agent.invocations().len(),
            files: Before::files(agent),
        }
    }

    fn files(agent: &TestAgent) -> Vec<Option<Vec<u8>>> {
        ["root/etc/ipf/ipnat.conf", "root/etc/dhcpd.conf"]
            .iter()
            .map(|p| std::fs::read(agent.host_path(p)).ok())
            .collect()
    }
}

/// One hostile value in one field.
struct Case<'c> {
    what: &'c str,
    field: &'c str,
    value: &'c str,
    rule: Rule,
}

struct Run<'a> {
    agent: &'a TestAgent,
    doc: Value,
    fixtures: Fixtures,
    cases: usize,
    accepted: BTreeSet<String>,
    reads: BTreeSet<String>,
    serial: usize,
    failures: Vec<(String, String)>,
}

impl<'a> Run<'a> {
    /// Sets the fixtures up on a fresh agent and reads its OpenAPI document.
    fn new(agent: &'a TestAgent) -> Run<'a> {
        let fixtures = setup(agent);
        Run {
            agent,
            doc: agent.get("/openapi.json").body,
            fixtures,
            cases: 0,
            accepted: BTreeSet::new(),
            reads: BTreeSet::new(),
            serial: 0,
            failures: Vec::new(),
        }
    }

    fn send(&self, method: &str, url: &str, body: Option<&Value>) -> Response {
        self.agent.request(method, url, Some(&self.agent.key), body)
    }

    /// Checks the answer to a hostile value under `rule`, and the commands it ran; a
    /// violation is recorded (one per operation and field) and reported at the end.
    fn judge(
        &mut self,
        what: &str,
        field: &str,
        value: &str,
        rule: Rule,
        r: &Response,
        before: &Before,
    ) {
        self.cases += 1;
        let case = Case {
            what,
            field,
            value,
            rule,
        };
        if let Err(why) = self.check(&case, r, before) {
            let key = format!("{what} {field}");
            if !self.failures.iter().any(|(k, _)| *k == key) {
                self.failures.push((key, why));
            }
        }
    }

    fn check(&mut self, c: &Case, r: &Response, before: &Before) -> Result<(), String> {
        let Case {
            what,
            field,
            value,
            rule,
        } = *c;
        let case = format!("{what}: {field}={value:?} gave {} {}", r.status, r.body);
        let refused = (400..500).contains(&r.status);
        // A task accepted by mistake still runs; wait, so its commands are charged to it.
        if let Some(id) = r.body["task_id"].as_str() {
            self.agent.wait(id);
        }
        if r.status >= 500 {
            return Err(case);
        }
        if refused {
            if r.body["success"] != false || !r.body["code"].is_string() {
                return Err(format!("{case}: not the API's error shape"));
            }
            if r.status == 400 && r.body["field"] != field {
                return Err(format!("{case}: the error does not name {field}"));
            }
            // Only a path parameter or a filter may name something that does not exist, and a
            // stored label may clash with one stored before.
            let clash = r.status == 409 && rule == Rule::Stored;
            if r.status != 400 && rule != Rule::Filter && r.status != 404 && !clash {
                return Err(case);
            }
        } else {
            if matches!(rule, Rule::Refuse | Rule::Lookup) {
                return Err(format!("{case}: accepted"));
            }
            self.accepted.insert(format!("{what} {field}"));
        }
        // The commands this request ran, and those of any task it queued; reads the agent
        // makes in the background meanwhile (a cache refresh) carry no origin.
        let request = format!("request:{}", r.header("x-request-id").unwrap_or("?"));
        let new: Vec<Vec<String>> = self.agent.invocations()[before.commands..]
            .iter()
            .filter(|inv| {
                inv["origin"]
                    .as_str()
                    .is_some_and(|o| o == request || o.starts_with("task:"))
            })
            .map(argv)
            .collect();
        let changes_host = matches!(rule, Rule::ZoneAttr(_) | Rule::Parsed) && !refused;
        for a in &new {
            if !read_only(a) && !changes_host {
                return Err(format!(
                    "{case}: ran a command that changes the host: {a:?}"
                ));
            }
            if value.len() > 2 && a.iter().any(|x| x.contains(value)) {
                return Err(format!("{case}: the value reached a command line: {a:?}"));
            }
            self.reads.insert(format!(
                "{} {}",
                a[0],
                a.get(1).cloned().unwrap_or_default()
            ));
        }
        if refused && !matches!(rule, Rule::Filter | Rule::Lookup) && !new.is_empty() {
            return Err(format!("{case}: refused, yet ran {new:?}"));
        }
        if refused && Before::files(self.agent) != before.files {
            return Err(format!("{case}: refused, yet a host config file changed"));
        }
        if let (false, Rule::Parsed) = (refused, rule) {
            if Before::files(self.agent)
                .iter()
                .flatten()
                .any(|f| String::from_utf8_lossy(f).contains(value))
            {
                return Err(format!("{case}: the raw value reached a config file"));
            }
        }
        if let (false, Rule::ZoneAttr(attr)) = (refused, rule) {
            let zone = r.body["zone_name"].as_str().unwrap_or_default();
            let mut got = zone_attr(self.agent, zone, attr);
            // SSH keys a zonecfg value cannot hold go to the zone's key file, which the
            // attribute names: the zone's detail reads them back from it.
            if attr == "sshkey"
                && got
                    .as_deref()
                    .is_some_and(|v| v.ends_with("/cloud-init-sshkeys"))
            {
                let z = self.agent.get(&format!("/zones/{zone}"));
                got = z.body["cloud_init"]["sshkey"].as_str().map(str::to_owned);
            }
            if got.as_deref() != Some(value) {
                return Err(format!("{case}: the zone's {attr} reads back as {got:?}"));
            }
        }
        Ok(())
    }

    fn finish(&self, label: &str) {
        let list: Vec<String> = self.failures.iter().map(|(_, w)| w.clone()).collect();
        assert!(
            list.is_empty(),
            "{label}: {} operation fields mishandle hostile values:\n{}",
            list.len(),
            list.join("\n")
        );
    }

    fn fresh_zone(&mut self) -> String {
        self.serial += 1;
        format!("injz{}", self.serial)
    }
}

fn setup(agent: &TestAgent) -> Fixtures {
    use crate::support::host;
    host(agent, "zfs", &["create", "-p", "rpool/templates/deb"]);
    host(agent, "zfs", &["snapshot", "rpool/templates/deb@v1"]);
    host(
        agent,
        "zfs",
        &["create", "-p", "-V", "1G", "rpool/vols/ex0"],
    );
    host(agent, "zfs", &["create", "-V", "1G", "rpool/vols/ex1"]);
    // An aggregation and a bridge whose ports and links the examples change.
    host(
        agent,
        "dladm",
        &["create-aggr", "-l", "igb1", "-l", "igb2", "injaggr1"],
    );
    host(agent, "dladm", &["create-etherstub", "injbrstub0"]);
    host(agent, "dladm", &["create-bridge", "injlab"]);
    std::fs::create_dir_all(agent.host_path("root/iso")).unwrap();
    for iso in ["base.iso", "inj.iso"] {
        std::fs::write(agent.host_path(&format!("root/iso/{iso}")), b"CD001").unwrap();
    }
    let r = agent.post(
        "/zones",
        json!({"name": "injbase", "brand": "bhyve", "ram": "1G",
            "boot_volume": {"size": "1G"}, "nics": [{"physical": "injbase0", "global_nic": "igb0"}],
            "cdroms": [{"path": "/iso/base.iso"}]}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    let r = agent.request(
        "PUT",
        "/zones/injbase",
        Some(&agent.key),
        Some(&json!({"add_disks": [{"size": "1G"}]})),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    let r = agent.request(
        "PUT",
        "/network/dhcp/config",
        Some(&agent.key),
        Some(
            &json!({"subnet": "10.190.190.0", "netmask": "255.255.255.0",
            "router": "10.190.190.1", "range_start": "10.190.190.10",
            "range_end": "10.190.190.200"}),
        ),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap());
    let r = agent.post(
        "/provisioning/recipes",
        json!({"name": "inj-fixture", "os_family": "linux", "shell_prompt": "# $", "steps": []}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let recipe = r.body["id"].as_str().unwrap().to_owned();
    let task = agent.noop(json!({}));
    agent.wait(&task);
    let tar = {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut ar = tar::Builder::new(gz);
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        ar.append_data(&mut h, "app/a.txt", &b"hi\n"[..]).unwrap();
        ar.into_inner().unwrap().finish().unwrap()
    };
    let r = upload(agent, "site.tar.gz", &tar);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let artifact = r.body["id"].as_str().unwrap().to_owned();
    Fixtures {
        zone: "injbase".into(),
        recipe,
        task,
        artifact,
    }
}

const BOUNDARY: &str = "zw-injection-boundary";

fn upload(agent: &TestAgent, filename: &str, bytes: &[u8]) -> Response {
    let mut b = Vec::new();
    write!(b, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/gzip\r\n\r\n").unwrap();
    b.extend_from_slice(bytes);
    write!(b, "\r\n--{BOUNDARY}--\r\n").unwrap();
    agent.request_bytes(
        "POST",
        "/artifacts",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        b,
    )
}

#[test]
fn hostile_values_in_request_bodies_are_refused_before_anything_runs() {
    // The fixtures attach volumes under rpool/vols, and the valid example names a collection:
    // the host allows both.
    let agent = TestAgent::start_with(
        "zones:
  attachable_datasets: [rpool/zones, rpool/vols]
provisioning:
  ansible:
    collections: [community.general]
terminal:
  enabled: true
",
    );
    let mut run = Run::new(&agent);
    let corpus = corpus();
    let doc = run.doc.clone();
    let mut operations = 0;
    let mut fields_total = 0;
    let mut valid = Vec::new();
    for o in openapi::operations(&doc) {
        let Some(content) = o.body_type() else {
            continue;
        };
        operations += 1;
        let what = format!("{} {}", o.method, o.path);
        if content == "multipart/form-data" {
            fields_total += 1;
            // The part's file name is shown back only; the header cannot carry a line break,
            // NUL or an unescaped quote, so those are left out here.
            for c in corpus
                .iter()
                .filter(|c| !c.contains(['\r', '\n', '\0', '"']))
            {
                let before = Before::take(&agent);
                let r = upload(&agent, c, b"not a tarball");
                run.judge(&what, "file", c, rule(&o.id, "file"), &r, &before);
            }
            continue;
        }
        let examples = examples(&o.id, &run.fixtures)
            .unwrap_or_else(|| panic!("{what} ({}) has no valid example body: add one", o.id));
        let schema = &o.op["requestBody"]["content"][content]["schema"];
        // `created_by` is the requester's label (tasks::RequesterNote): stored on the task,
        // never on a command line or in a file; its own tests refuse control characters.
        let declared: Vec<String> = openapi::string_fields(&doc, schema)
            .into_iter()
            .filter(|d| d != "created_by")
            .collect();
        let mut all_leaves = Vec::new();
        for e in &examples {
            leaves(e, "", &mut all_leaves);
        }
        let missing: Vec<&String> = declared
            .iter()
            .filter(|d| !all_leaves.iter().any(|(l, _)| covers(d, l)))
            .collect();
        assert!(
            missing.is_empty(),
            "{what}: no example holds the string fields {missing:?}: add them to examples()"
        );
        let url = o.concrete(|p| path_value(&o, p, &run.fixtures));
        for example in &examples {
            let mut ls = Vec::new();
            leaves(example, "", &mut ls);
            for (field, good) in ls {
                fields_total += 1;
                let r_ = rule(&o.id, &field);
                for c in &corpus {
                    // `..`, `-rf`, `--help` and an absolute path are hostile as a whole value;
                    // after a valid one they make another valid name or path.
                    let appended = !matches!(c.as_str(), ".." | "-rf" | "--help" | "/etc/passwd");
                    let placements = if appended {
                        vec![c.clone(), format!("{good}{c}")]
                    } else {
                        vec![c.clone()]
                    };
                    for value in placements {
                        let mut body = if matches!(r_, Rule::Refuse | Rule::Lookup) {
                            example.clone()
                        } else {
                            isolate(&o.id, &field, example)
                        };
                        set(&mut body, &field, &value);
                        if ["create_zone", "create_recipe"].contains(&o.id.as_str())
                            && field != "name"
                        {
                            body["name"] = json!(run.fresh_zone());
                        }
                        let before = Before::take(&agent);
                        let r = run.send(&o.method, &url, Some(&body));
                        run.judge(&what, &field, &value, r_, &r, &before);
                    }
                }
            }
            valid.push((o.method.clone(), url.clone(), o.id.clone(), example.clone()));
        }
    }
    // Each example, as it is, is accepted: the refusals above were for the hostile value.
    for (method, url, id, mut body) in valid {
        if id == "create_zone" {
            body["name"] = json!(run.fresh_zone());
        }
        let r = run.send(&method, &url, Some(&body));
        if !(200..300).contains(&r.status) {
            run.failures.push((
                id.clone(),
                format!(
                    "the valid example of {id} was refused: {body} -> {} {}",
                    r.status, r.body
                ),
            ));
        }
    }
    eprintln!(
        "injection (bodies): {} corpus values x 2 placements, {operations} operations, {fields_total} fields, {} cases; accepted by rule: {:?}; read-only commands seen: {:?}",
        corpus.len(),
        run.cases,
        run.accepted,
        run.reads
    );
    run.finish("bodies");
    assert!(run.cases > 1000);
}

#[test]
fn hostile_path_and_query_parameters_are_refused_or_match_nothing() {
    let agent = TestAgent::start();
    let mut run = Run::new(&agent);
    let corpus = corpus();
    let doc = run.doc.clone();
    let mut params = 0;
    for o in openapi::operations(&doc) {
        let what = format!("{} {}", o.method, o.path);
        let body = o.body_type().filter(|t| *t == "application/json").map(|_| {
            examples(&o.id, &run.fixtures)
                .unwrap_or_else(|| panic!("{what} has no valid example body"))
                .remove(0)
        });
        let streaming = o.id == "events";
        for p in o.string_params(&doc, "path") {
            params += 1;
            for c in &corpus {
                let url = o.concrete(|q| {
                    if q == p {
                        c.clone()
                    } else {
                        path_value(&o, q, &run.fixtures)
                    }
                });
                let before = Before::take(&agent);
                let r = run.send(&o.method, &url, body.as_ref());
                run.judge(&what, &p, c, Rule::Refuse, &r, &before);
            }
        }
        let base = o.concrete(|q| path_value(&o, q, &run.fixtures));
        // The requester's label (see the body sweep): stored on the task only.
        for p in o
            .string_params(&doc, "query")
            .into_iter()
            .filter(|p| p != "created_by")
        {
            params += 1;
            for c in &corpus {
                let url = format!("{base}?{p}={}", openapi::encode(c));
                let before = Before::take(&agent);
                if streaming {
                    // An accepted filter opens the stream; only the status is read.
                    let s = agent.status(&o.method, &url, Some(&agent.key), None);
                    if s != 200 && s != 400 {
                        run.failures
                            .push((what.clone(), format!("{what}?{p}={c:?} gave {s}")));
                    }
                    run.cases += 1;
                    continue;
                }
                let r = run.send(&o.method, &url, body.as_ref());
                run.judge(&what, &p, c, Rule::Filter, &r, &before);
            }
        }
    }
    eprintln!(
        "injection (parameters): {} corpus values, {params} parameters, {} cases; accepted filters: {:?}; read-only commands seen: {:?}",
        corpus.len(),
        run.cases,
        run.accepted,
        run.reads
    );
    run.finish("parameters");
    assert!(run.cases > 500);
}

/// The verdicts above charge commands by their origin; a command the agent runs is marked with
/// the request or task it runs for, and only background reads go unmarked.
#[test]
fn every_host_command_is_charged_to_its_request_or_task() {
    let agent = TestAgent::start();
    let before = agent.invocations().len();
    let r = agent.post("/zones", json!({"name": "origin01", "brand": "bhyve"}));
    assert_eq!(r.status, 202, "{}", r.body);
    let task = r.body["task_id"].as_str().unwrap().to_owned();
    assert_eq!(agent.wait(&task)["status"], "completed");
    // The create invalidated the zone's entries: this read goes to the host on the request.
    let read = agent.get("/zones/origin01");
    assert_eq!(read.status, 200, "{}", read.body);
    let request = format!("request:{}", read.header("x-request-id").unwrap());

    let new = &agent.invocations()[before..];
    let of = |origin: &str| -> Vec<Vec<String>> {
        new.iter()
            .filter(|i| i["origin"] == origin)
            .map(argv)
            .collect()
    };
    let by_task = of(&format!("task:{task}"));
    assert!(
        by_task
            .iter()
            .any(|a| a[0] == "zonecfg" && a.iter().any(|x| x == "origin01")),
        "the create's zonecfg is charged to its task: {new:?}"
    );
    assert!(
        !of(&request).is_empty(),
        "the read's host commands are charged to its request: {new:?}"
    );
    assert!(
        new.iter()
            .filter(|i| i["origin"].is_null())
            .all(|i| read_only(&argv(i))),
        "whatever runs unmarked only reads: {new:?}"
    );
}
