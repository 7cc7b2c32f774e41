//! The NAT operations: add rules, delete a rule; each writes the file through `host::apply`.

use std::sync::Arc;

use illumos::ipnat::{Line, MapRule, NatConf, NatRule};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::host::{apply, read_conf};
use super::view::{rule_id, rule_text};
use crate::network::conffile::Loaded;
use crate::network::journal::{self, Entry};
use crate::network::NetworkServices;
use crate::tasks::{Cx, OpError, TaskOp};

pub const ADD_RULES: &str = "network_nat_add";
pub const DELETE_RULE: &str = "network_nat_delete";

/// `network_nat_add`: the rules to add, as their text (the one that decides "duplicate" first).
#[derive(Debug, Serialize, Deserialize)]
pub struct AddParams {
    pub rules: Vec<NatRule>,
}

pub struct AddRulesOp(pub Arc<NetworkServices>);

impl TaskOp for AddRulesOp {
    type Params = AddParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        ADD_RULES
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: AddParams) -> Result<Option<Value>, OpError> {
        let rules = p.rules;
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        if rules.first().is_some_and(|r| conf.contains(r)) {
            return Err(OpError::failed(format!(
                "the rule {:?} already exists",
                rules[0].to_string()
            )));
        }
        for r in rules.iter().cloned() {
            conf.ensure(r);
        }
        cx.progress(30, "writing ipnat.conf").await?;
        apply(&self.0, cx, &conf).await?;
        let ids: Vec<Value> = conf
            .lines()
            .iter()
            .filter(|l| matches!(l, Line::Rule(r) if rules.contains(r.rule())))
            .map(|l| json!({"id": rule_id(l), "rule": l.text()}))
            .collect();
        Ok(Some(json!({"rules": ids})))
    }

    journal::undo_by_journal!(AddParams);
}

/// `network_nat_delete`: the stable id of the rule, and its text as it was (shown in the
/// task's metadata).
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteParams {
    pub id: String,
    #[serde(default)]
    pub rule: String,
}

pub struct DeleteRuleOp(pub Arc<NetworkServices>);

/// The plain map the agent writes after a portmap rule.
fn companion(rule: &NatRule) -> Option<NatRule> {
    match rule {
        NatRule::Map(m) if m.portmap.is_some() => Some(NatRule::Map(MapRule {
            portmap: None,
            ..m.clone()
        })),
        _ => None,
    }
}

/// Removes the lines with this id (and a portmap's companion); returns their texts.
pub fn remove_by_id(conf: &NatConf, id: &str) -> (NatConf, Vec<String>) {
    let mut removed = Vec::new();
    let mut companions = Vec::new();
    let mut kept = String::new();
    for line in conf.lines() {
        if matches!(line, Line::Rule(_) | Line::Other(_)) && rule_id(line) == id {
            removed.push(rule_text(line.text()));
            if let Line::Rule(r) = line {
                companions.extend(companion(r.rule()));
            }
            continue;
        }
        kept.push_str(line.text());
        kept.push('\n');
    }
    let mut out = NatConf::parse(&kept);
    for c in companions {
        if out.remove(&c) > 0 {
            removed.push(c.to_string());
        }
    }
    (out, removed)
}

impl TaskOp for DeleteRuleOp {
    type Params = DeleteParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_RULE
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteParams) -> Result<Option<Value>, OpError> {
        let conf = read_conf(&self.0, &cx.runner).await?;
        let (new, removed) = remove_by_id(&conf, &p.id);
        let new = Loaded {
            file: conf.file.clone(),
            conf: new,
        };
        if removed.is_empty() {
            cx.note(&format!("no rule {} in the file: already gone", p.id));
            return Ok(Some(json!({"removed": removed})));
        }
        cx.progress(30, "writing ipnat.conf").await?;
        apply(&self.0, cx, &new).await?;
        Ok(Some(json!({"removed": removed})))
    }

    journal::undo_by_journal!(DeleteParams);
}

#[cfg(test)]
mod tests {
    use super::super::view::list;
    use super::*;
    use serde_json::json;

    #[test]
    fn deleting_a_portmap_takes_its_companion_and_keeps_the_rest() {
        let text = "# keep me\nmap igb0 10.0.0.0/24 -> 0/32 portmap tcp/udp auto\nmap igb0 10.0.0.0/24 -> 0/32\nrdr igb0 1.2.3.4/32 port 80 -> 10.0.0.5 port 80 tcp\n";
        let conf = NatConf::parse(text);
        let id = list(&conf)[0].id.clone();
        let (new, removed) = remove_by_id(&conf, &id);
        assert_eq!(removed.len(), 2);
        assert_eq!(
            new.render(),
            "# keep me\nrdr igb0 1.2.3.4/32 port 80 -> 10.0.0.5 port 80 tcp\n"
        );
    }
    #[test]
    fn metadata_of_queued_nat_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<AddParams>(json!({"rules": [
            "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto",
            "map igb0 10.190.190.0/24 -> 0/32",
            "rdr igb0 192.168.1.10/32 port 8080 -> 10.190.190.10 port 80 tcp",
        ]}));
        crate::network::assert_same_shape::<DeleteParams>(
            json!({"id": "nat-0123456789ab", "rule": "map-block igb0 10.1.0.0/24 -> 0/32"}),
        );
        let bad = json!({"rules": ["map igb0 10.0.0.0/24 -> 0/32\nmap"]});
        assert!(serde_json::from_value::<AddParams>(bad).is_err());
    }
}
