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
        if let Some(why) = clash(&conf, &rules) {
            return Err(OpError::failed(why));
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

/// Why `rules` (as a request makes them: the rule, then a portmap's plain map) cannot be added
/// to `conf`: the rule is there already, or a portmap's plain map is. That map would then not
/// be the portmap's companion (a delete of the portmap takes its companion with it), and ipnat
/// applies the first rule that matches, so the portmap must come before it.
pub fn clash(conf: &NatConf, rules: &[NatRule]) -> Option<String> {
    let id_of = |rule: &NatRule| {
        conf.lines()
            .iter()
            .find(|l| matches!(l, Line::Rule(r) if r.rule() == rule))
            .map(rule_id)
            .unwrap_or_default()
    };
    let first = rules.first()?;
    if conf.contains(first) {
        return Some(format!(
            "the rule {:?} already exists (id {})",
            first.to_string(),
            id_of(first)
        ));
    }
    let plain = rules
        .get(1)
        .filter(|p| companion(first).as_ref() == Some(*p))?;
    conf.contains(plain).then(|| {
        format!(
            "the plain map {:?} is already in ipnat.conf (id {}): ipnat applies the first rule \
             that matches, so a portmap must come before it; delete it, then add the portmap, \
             which writes both",
            plain.to_string(),
            id_of(plain)
        )
    })
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

/// Removes the lines with this id, and after a portmap its companion: the equal plain map on
/// the very next line, as the agent writes the pair. A plain map elsewhere in the file is
/// someone else's rule and stays. Returns the removed lines' rules.
pub fn remove_by_id(conf: &NatConf, id: &str) -> (NatConf, Vec<String>) {
    let lines = conf.lines();
    let mut dropped = vec![false; lines.len()];
    let mut removed = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if dropped[i] || !matches!(line, Line::Rule(_) | Line::Other(_)) || rule_id(line) != id {
            continue;
        }
        dropped[i] = true;
        removed.push(rule_text(line.text()));
        if let (Line::Rule(r), Some(Line::Rule(next))) = (line, lines.get(i + 1)) {
            if companion(r.rule()).as_ref() == Some(next.rule()) {
                dropped[i + 1] = true;
                removed.push(next.rule().to_string());
            }
        }
    }
    let mut kept = String::new();
    for (line, _) in lines.iter().zip(&dropped).filter(|(_, d)| !**d) {
        kept.push_str(line.text());
        kept.push('\n');
    }
    (NatConf::parse(&kept), removed)
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
    fn a_plain_map_that_does_not_follow_the_portmap_is_not_its_companion() {
        let text = "map igb0 10.0.0.0/24 -> 0/32\n# between\nmap igb0 10.0.0.0/24 -> 0/32 portmap tcp/udp auto\n";
        let conf = NatConf::parse(text);
        let id = list(&conf)[1].id.clone();
        let (new, removed) = remove_by_id(&conf, &id);
        assert_eq!(removed.len(), 1);
        assert_eq!(new.render(), "map igb0 10.0.0.0/24 -> 0/32\n# between\n");
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
