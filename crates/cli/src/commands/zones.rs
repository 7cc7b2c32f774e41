//! `zw zones ...`: `/zones`.

use std::fmt::Write as _;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

use crate::body;
use crate::cli::{AttrArgs, CreateArgs, ModifyArgs, ZonesCmd};
use crate::client::{enc, query, Body};
use crate::commands::send;
use crate::output::{self, scalar, short_time, Cell, Paint, Table, Ui};
use crate::Ctx;

pub fn run(ctx: &Ctx, cmd: ZonesCmd) -> Result<()> {
    match cmd {
        ZonesCmd::List { state, brand } => {
            let reply = ctx.client.get(&format!(
                "/zones{}",
                query(&[("state", state), ("brand", brand)])
            ))?;
            ctx.finish(&reply, list_table)
        }
        ZonesCmd::Show { name } => {
            let reply = ctx.client.get(&format!("/zones/{}", enc(&name)))?;
            ctx.finish(&reply, detail)
        }
        ZonesCmd::Create(args) => {
            let body = create_body(&args)?;
            send(ctx, "POST", "/zones", Body::Json(body))
        }
        ZonesCmd::Modify(args) => {
            let body = modify_body(&args)?;
            send(
                ctx,
                "PUT",
                &format!("/zones/{}", enc(&args.name)),
                Body::Json(body),
            )
        }
        ZonesCmd::Start { name } => lifecycle(ctx, &name, "start"),
        ZonesCmd::Stop { name } => lifecycle(ctx, &name, "stop"),
        ZonesCmd::Restart { name } => lifecycle(ctx, &name, "restart"),
        ZonesCmd::Halt { name } => lifecycle(ctx, &name, "halt"),
        ZonesCmd::Delete {
            name,
            cleanup_datasets,
            force,
        } => {
            let path = if force {
                format!("/zones/{}/force", enc(&name))
            } else if cleanup_datasets {
                format!("/zones/{}?cleanup_datasets=true", enc(&name))
            } else {
                format!("/zones/{}", enc(&name))
            };
            send(ctx, "DELETE", &path, Body::None)
        }
    }
}

fn lifecycle(ctx: &Ctx, name: &str, action: &str) -> Result<()> {
    send(
        ctx,
        "POST",
        &format!("/zones/{}/{action}", enc(name)),
        Body::None,
    )
}

fn list_table(ui: &Ui, v: &Value) -> String {
    let zones = v["zones"].as_array().cloned().unwrap_or_default();
    if zones.is_empty() {
        return "(no zones)\n".to_owned();
    }
    let mut t = Table::new(["NAME", "BRAND", "STATE", "AUTOBOOT", "MANAGED", "PENDING"]);
    for z in &zones {
        let state = z["state"].as_str().unwrap_or("");
        let managed = match (z["managed"].as_bool(), z["agent_status"].as_str()) {
            (Some(true), Some(s)) if s != "ready" => s.to_owned(),
            (Some(true), _) => "yes".to_owned(),
            _ => "no".to_owned(),
        };
        t.row(vec![
            scalar(&z["name"]).into(),
            scalar(&z["brand"]).into(),
            Cell::state(state),
            scalar(&z["autoboot"]).into(),
            managed.into(),
            match z["pending_changes"].as_u64() {
                Some(0) | None => "".into(),
                Some(n) => n.to_string().into(),
            },
        ]);
    }
    t.render(ui, 0)
}

fn detail(ui: &Ui, z: &Value) -> String {
    let mut out = String::new();
    let state = z["state"].as_str().unwrap_or("");
    let row = |out: &mut String, k: &str, v: String| {
        if !v.is_empty() {
            let _ = writeln!(out, "{:<14}{v}", format!("{k}:"));
        }
    };
    row(&mut out, "name", scalar(&z["name"]));
    row(&mut out, "brand", scalar(&z["brand"]));
    row(
        &mut out,
        "state",
        ui.paint(state, output::state_paint(state)),
    );
    row(&mut out, "autoboot", scalar(&z["autoboot"]));
    row(&mut out, "zonepath", scalar(&z["zonepath"]));
    row(&mut out, "ip-type", scalar(&z["ip_type"]));
    row(&mut out, "uuid", scalar(&z["uuid"]));
    row(
        &mut out,
        "managed",
        match z["agent_status"].as_str() {
            Some(s) => format!("yes ({s})"),
            None => "no".to_owned(),
        },
    );
    row(&mut out, "created by", scalar(&z["created_by"]));
    row(
        &mut out,
        "created at",
        z["created_at"].as_str().map(short_time).unwrap_or_default(),
    );
    let heading = |out: &mut String, h: &str| {
        let _ = writeln!(out, "{}", ui.paint(h, Some(Paint::Bold)));
    };
    if let Some(attrs) = z["attributes"].as_object().filter(|a| !a.is_empty()) {
        heading(&mut out, "attributes:");
        let w = attrs.keys().map(|k| k.len()).max().unwrap_or(0) + 1;
        for (k, v) in attrs {
            let _ = writeln!(out, "  {:w$} {}", format!("{k}:"), scalar(v));
        }
    }
    for (key, title) in [
        ("disks", "disks:"),
        ("nics", "nics:"),
        ("cdroms", "cdroms:"),
        ("datasets", "datasets:"),
    ] {
        if let Some(items) = z[key].as_array().filter(|a| !a.is_empty()) {
            heading(&mut out, title);
            out.push_str(&output::table_of(items).render(ui, 2));
        }
    }
    if let Some(ci) = z["cloud_init"].as_object() {
        let set: Map<String, Value> = ci
            .iter()
            // Unset values, and "no password" (the usual case), say nothing.
            .filter(|(k, v)| !(v.is_null() || (k.as_str() == "password_set" && **v == false)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !set.is_empty() {
            heading(&mut out, "cloud-init:");
            output::listing(ui, &mut out, &Value::Object(set), 2);
        }
    }
    if let Some(p) = z["pending_changes"].as_array().filter(|a| !a.is_empty()) {
        heading(&mut out, "pending changes (next boot):");
        for c in p {
            let _ = writeln!(out, "  {}", scalar(c));
        }
    }
    if let Some(p) = z.get("provisioning").filter(|p| !p.is_null()) {
        heading(&mut out, "provisioning:");
        output::listing(ui, &mut out, p, 2);
    }
    if let Some(tasks) = z["recent_tasks"].as_array().filter(|a| !a.is_empty()) {
        heading(&mut out, "recent tasks:");
        out.push_str(&super::tasks::table(ui, tasks).render(ui, 2));
    }
    out
}

fn set(body: &mut Value, key: &str, v: &Option<String>) -> Result<()> {
    if let Some(v) = v {
        body::set_path(body, key, Value::String(v.clone()))?;
    }
    Ok(())
}

fn apply_attrs(body: &mut Value, a: &AttrArgs) -> Result<()> {
    set(body, "ram", &a.ram)?;
    set(body, "vcpus", &a.vcpus)?;
    set(body, "bootrom", &a.bootrom)?;
    set(body, "hostbridge", &a.hostbridge)?;
    set(body, "diskif", &a.diskif)?;
    set(body, "netif", &a.netif)?;
    set(body, "os_type", &a.os_type)?;
    set(body, "vnc", &a.vnc)?;
    set(body, "acpi", &a.acpi)?;
    set(body, "xhci", &a.xhci)?;
    if let Some(b) = a.autoboot {
        body::set_path(body, "autoboot", Value::Bool(b))?;
    }
    set(body, "cloud_init.enabled", &a.cloud_init)?;
    set(body, "cloud_init.sshkey", &a.sshkey)?;
    set(body, "cloud_init.resolvers", &a.resolvers)?;
    set(body, "cloud_init.dns_domain", &a.dns_domain)?;
    Ok(())
}

fn start_body(file: Option<&std::path::Path>) -> Result<Value> {
    let b = match file {
        Some(f) => body::read_file(f)?,
        None => Value::Object(Map::new()),
    };
    if !b.is_object() {
        bail!("the request file must hold an object (a mapping)");
    }
    Ok(b)
}

/// Appends to an array field (made if absent).
fn push(body: &mut Value, key: &str, v: Value) -> Result<()> {
    if body.get(key).is_none() {
        body::set_path(body, key, json!([]))?;
    }
    match body.get_mut(key) {
        Some(Value::Array(a)) => {
            a.push(v);
            Ok(())
        }
        _ => bail!("{key} in the request file is not a list"),
    }
}

/// `POST /zones` from `-f FILE` and the flags (flags win).
pub fn create_body(a: &CreateArgs) -> Result<Value> {
    let mut b = start_body(a.file.as_deref())?;
    set(&mut b, "name", &a.name)?;
    set(&mut b, "brand", &a.brand)?;
    apply_attrs(&mut b, &a.attrs)?;
    if let Some(size) = &a.disk_size {
        body::set_path(&mut b, "boot_volume.create_new", Value::Bool(true))?;
        body::set_path(&mut b, "boot_volume.size", Value::String(size.clone()))?;
    }
    set(&mut b, "boot_volume.pool", &a.pool)?;
    if a.sparse {
        body::set_path(&mut b, "boot_volume.sparse", Value::Bool(true))?;
    }
    if let Some(ds) = &a.boot_dataset {
        body::set_path(&mut b, "boot_volume.create_new", Value::Bool(false))?;
        body::set_path(
            &mut b,
            "boot_volume.existing_dataset",
            Value::String(ds.clone()),
        )?;
    }
    if let Some(t) = &a.template {
        body::set_path(&mut b, "source.type", "template".into())?;
        body::set_path(&mut b, "source.template_dataset", Value::String(t.clone()))?;
        if a.copy {
            body::set_path(&mut b, "source.clone_strategy", "copy".into())?;
        }
    }
    for n in &a.nics {
        push(&mut b, "nics", parse_nic(n)?)?;
    }
    for c in &a.cdroms {
        push(&mut b, "cdroms", json!({ "path": c }))?;
    }
    if a.start {
        body::set_path(&mut b, "start_after_create", Value::Bool(true))?;
    }
    if a.force {
        body::set_path(&mut b, "force", Value::Bool(true))?;
    }
    Ok(b)
}

/// `PUT /zones/{name}` from `-f FILE` and the flags.
pub fn modify_body(a: &ModifyArgs) -> Result<Value> {
    let mut b = start_body(a.file.as_deref())?;
    apply_attrs(&mut b, &a.attrs)?;
    for n in &a.add_nics {
        push(&mut b, "add_nics", parse_nic(n)?)?;
    }
    for n in &a.remove_nics {
        push(&mut b, "remove_nics", json!(n))?;
    }
    for size in &a.add_disks {
        push(
            &mut b,
            "add_disks",
            json!({ "create_new": true, "size": size }),
        )?;
    }
    for d in &a.remove_disks {
        push(&mut b, "remove_disks", json!(d))?;
    }
    for c in &a.add_cdroms {
        push(&mut b, "add_cdroms", json!({ "path": c }))?;
    }
    for c in &a.remove_cdroms {
        push(&mut b, "remove_cdroms", json!(c))?;
    }
    if a.force {
        body::set_path(&mut b, "force", Value::Bool(true))?;
    }
    Ok(b)
}

/// `VNIC[,global_nic=LINK][,mac_addr=MAC][,vlan_id=N][,allowed_address=CIDR]`. A MAC's colons
/// are fine: only commas separate.
pub fn parse_nic(spec: &str) -> Result<Value> {
    let mut parts = spec.split(',');
    let physical = parts.next().unwrap_or("").trim();
    if physical.is_empty() || physical.contains('=') {
        bail!("--nic {spec:?}: start with the VNIC name, e.g. web0,global_nic=igb0");
    }
    let mut nic = Map::new();
    nic.insert("physical".into(), physical.into());
    for p in parts {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--nic {spec:?}: {p:?} is not KEY=VALUE"))?;
        let v = match k {
            "global_nic" | "mac_addr" | "allowed_address" => Value::String(v.to_owned()),
            "vlan_id" => match v.parse::<u16>() {
                Ok(n) => json!(n),
                Err(_) => bail!("--nic {spec:?}: vlan_id must be a number"),
            },
            _ => bail!(
                "--nic {spec:?}: unknown key {k:?} (global_nic, mac_addr, vlan_id, allowed_address)"
            ),
        };
        nic.insert(k.to_owned(), v);
    }
    Ok(Value::Object(nic))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn create(args: &[&str]) -> Value {
        let cli =
            crate::cli::Cli::try_parse_from(["zw", "zones", "create"].iter().chain(args.iter()))
                .unwrap();
        match cli.command {
            crate::cli::Command::Zones(ZonesCmd::Create(a)) => create_body(&a).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn create_flags_make_the_api_request() {
        let b = create(&[
            "--name",
            "web01",
            "--brand",
            "bhyve",
            "--ram",
            "2G",
            "--vcpus",
            "2",
            "--disk-size",
            "30G",
            "--nic",
            "web0,global_nic=igb0,vlan_id=10,mac_addr=2:8:20:a:b:c",
            "--cdrom",
            "/iso/x.iso",
            "--autoboot",
            "true",
            "--sshkey",
            "ssh-ed25519 AAA",
            "--start",
        ]);
        assert_eq!(
            b,
            json!({
                "name": "web01", "brand": "bhyve", "ram": "2G", "vcpus": "2", "autoboot": true,
                "boot_volume": {"create_new": true, "size": "30G"},
                "nics": [{"physical": "web0", "global_nic": "igb0", "vlan_id": 10, "mac_addr": "2:8:20:a:b:c"}],
                "cdroms": [{"path": "/iso/x.iso"}],
                "cloud_init": {"sshkey": "ssh-ed25519 AAA"},
                "start_after_create": true,
            })
        );
    }

    #[test]
    fn a_template_clone_or_copy() {
        let b = create(&[
            "--name",
            "a",
            "--brand",
            "bhyve",
            "--template",
            "rpool/t@s",
            "--copy",
        ]);
        assert_eq!(
            b["source"],
            json!({"type": "template", "template_dataset": "rpool/t@s", "clone_strategy": "copy"})
        );
    }

    #[test]
    fn name_and_brand_are_required_without_a_file() {
        assert!(crate::cli::Cli::try_parse_from(["zw", "zones", "create", "--name", "x"]).is_err());
        assert!(crate::cli::Cli::try_parse_from(["zw", "zones", "create", "-f", "x.yaml"]).is_ok());
    }

    #[test]
    fn nic_specs_are_checked() {
        assert!(parse_nic("").is_err());
        assert!(parse_nic("web0,colour=red").is_err());
        assert!(parse_nic("web0,vlan_id=x").is_err());
        assert_eq!(parse_nic("web0").unwrap(), json!({"physical": "web0"}));
    }
}
