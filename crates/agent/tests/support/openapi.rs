//! Walking the agent's own OpenAPI document: the operations it serves, their parameters and the
//! string fields of their request bodies. The access matrix and the injection corpus both start
//! here, so a route or a field added to the document is picked up by both.

use serde_json::Value;

/// One operation of the document.
pub struct Operation<'a> {
    /// Upper case: `GET`, `POST`, ...
    pub method: String,
    /// As documented, with `{param}` placeholders.
    pub path: String,
    pub id: String,
    pub op: &'a Value,
}

impl Operation<'_> {
    /// Parameters in `place` (`path` or `query`) whose schema accepts a string.
    pub fn string_params(&self, doc: &Value, place: &str) -> Vec<String> {
        self.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == place)
            .filter(|p| takes_string(doc, &p["schema"]))
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The content type of the request body, if the operation takes one.
    pub fn body_type(&self) -> Option<&str> {
        self.op["requestBody"]["content"]
            .as_object()
            .and_then(|c| c.keys().next())
            .map(String::as_str)
    }

    /// The path with each `{param}` replaced by `fill(param)` (percent-encoded).
    pub fn concrete(&self, fill: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        let mut rest = self.path.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let j = rest[i..].find('}').unwrap();
            out.push_str(&encode(&fill(&rest[i + 1..i + j])));
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// Every operation of the document, in its order.
pub fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            ops.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                id: op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                    .to_owned(),
                op,
            });
        }
    }
    ops
}

/// Follows a `$ref` (`#/components/schemas/X`).
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether a value of the schema may be a string (directly, nullable, or one of its variants).
pub fn takes_string(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    types(s).contains(&"string")
        || s["enum"].is_array()
        || alternatives(s)
            .iter()
            .any(|v| !is_object_schema(doc, v) && takes_string(doc, v))
}

fn alternatives(s: &Value) -> Vec<&Value> {
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| s[*k].as_array())
        .flatten()
        .collect()
}

fn is_object_schema(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    s["properties"].is_object() || s["allOf"].is_array() || types(s) == ["object"]
}

/// The string fields a request body schema declares, as the agent names them in errors
/// (`boot_volume.size`, `nics[].physical`; `[]` for any array index). Objects whose keys the
/// document leaves open (`type: object` without properties) appear as `field.*`.
pub fn string_fields(doc: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, schema, "", &mut out, 0);
    out.sort();
    out.dedup();
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(doc: &Value, schema: &Value, at: &str, out: &mut Vec<String>, depth: usize) {
    assert!(depth < 16, "schema nests too deep at {at}");
    let s = resolve(doc, schema);
    for part in s["allOf"].as_array().into_iter().flatten() {
        walk(doc, part, at, out, depth + 1);
    }
    for alt in alternatives(s) {
        walk(doc, alt, at, out, depth + 1);
    }
    if let Some(props) = s["properties"].as_object() {
        for (k, v) in props {
            walk(doc, v, &join(at, k), out, depth + 1);
        }
    }
    let t = types(s);
    if t.contains(&"array") {
        walk(doc, &s["items"], &format!("{at}[]"), out, depth + 1);
    }
    let open_map =
        takes_string(doc, &s["additionalProperties"]) || s["additionalProperties"].is_null();
    if t.contains(&"object") && s["properties"].is_null() && open_map {
        out.push(join(at, "*"));
    }
    if (t.contains(&"string") || s["enum"].is_array()) && !at.is_empty() {
        out.push(at.to_owned());
    }
}

/// Percent-encodes everything but unreserved characters, so any value travels as one path
/// segment or query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
