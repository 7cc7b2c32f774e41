//! Request bodies from files (`-f spec.yaml|json`) and `FIELD=VALUE` arguments.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};

/// Reads a YAML or JSON document (`-` is standard input). `.json` is JSON, `.yaml`/`.yml` YAML;
/// otherwise a document starting with `{` or `[` is JSON, anything else YAML.
pub fn read_file(path: &Path) -> Result<Value> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let json = match ext {
        "json" => true,
        "yaml" | "yml" => false,
        _ => text.trim_start().starts_with(['{', '[']),
    };
    if json {
        serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
    } else {
        yaml_serde::from_str(&text).with_context(|| format!("{}: not valid YAML", path.display()))
    }
}

/// The body of a generic command: the file's object (or `{}`), then each field set over it.
pub fn build(file: Option<&Path>, fields: &[String]) -> Result<Value> {
    let mut body = match file {
        Some(p) => read_file(p)?,
        None => Value::Object(Map::new()),
    };
    for f in fields {
        set_field(&mut body, f)?;
    }
    Ok(body)
}

/// `a.b=text` sets a string, `a.b:=json` any JSON value (`vlan_id:=10`, `enabled:=true`,
/// `interfaces:='["igb0"]'`).
pub fn set_field(body: &mut Value, arg: &str) -> Result<()> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("{arg:?}: expected FIELD=VALUE or FIELD:=JSON"))?;
    let (key, value) = match key.strip_suffix(':') {
        Some(k) => (
            k,
            serde_json::from_str(value)
                .with_context(|| format!("{arg:?}: the value after := must be JSON"))?,
        ),
        None => (key, Value::String(value.to_owned())),
    };
    if key.is_empty() || key.split('.').any(str::is_empty) {
        bail!("{arg:?}: empty field name");
    }
    set_path(body, key, value)
}

/// Sets a dotted path, making intermediate objects.
pub fn set_path(body: &mut Value, key: &str, value: Value) -> Result<()> {
    let mut at = body;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = match at {
            Value::Object(o) => o,
            _ => bail!(
                "cannot set {key}: {} is not an object",
                parts[..i].join(".")
            ),
        };
        if i == parts.len() - 1 {
            obj.insert((*part).to_owned(), value);
            return Ok(());
        }
        at = obj
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    unreachable!("a key has at least one part")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_strings_unless_colon_equals() {
        let b = build(
            None,
            &[
                "name=web0".into(),
                "vlan_id:=10".into(),
                "mac=02:08:20:0a:0b:0c".into(),
                "svc.enabled:=true".into(),
                "note=a=b".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            b,
            json!({"name": "web0", "vlan_id": 10, "mac": "02:08:20:0a:0b:0c",
                   "svc": {"enabled": true}, "note": "a=b"})
        );
    }

    #[test]
    fn bad_fields_are_refused_with_the_argument() {
        let mut v = json!({});
        assert!(set_field(&mut v, "novalue")
            .unwrap_err()
            .to_string()
            .contains("novalue"));
        assert!(set_field(&mut v, "x:=nope").is_err());
        assert!(set_field(&mut v, ".x=1").is_err());
        let mut v = json!({"a": 1});
        assert!(set_field(&mut v, "a.b=1").is_err());
    }

    #[test]
    fn yaml_and_json_files_read_alike() {
        let dir = std::env::temp_dir().join(format!("zw-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let y = dir.join("spec.yaml");
        std::fs::write(
            &y,
            "name: web\nbrand: bhyve\nnics:\n  - physical: web0\n    vlan_id: 10\n",
        )
        .unwrap();
        let j = dir.join("spec");
        std::fs::write(
            &j,
            r#" {"name":"web","brand":"bhyve","nics":[{"physical":"web0","vlan_id":10}]}"#,
        )
        .unwrap();
        assert_eq!(read_file(&y).unwrap(), read_file(&j).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
