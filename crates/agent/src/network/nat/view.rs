//! What the NAT routes answer: the rules of the file, each with a stable id.

use illumos::ipnat::{Line, NatConf, NatRule};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

// The listing: every rule line of the file, understood or not.

/// A rule line of ipnat.conf as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NatRuleInfo {
    /// 0-based position among the file's rules (comments and blank lines not counted). Changes
    /// when rules before it are removed; `id` does not.
    pub rule_id: usize,
    /// Stable id, derived from the rule itself (`nat-` and 12 hex digits).
    pub id: String,
    /// The rule as written in the file, without a trailing comment.
    pub rule: String,
    /// `map`, `bimap`, `rdr`, or the first word of a rule the agent does not model.
    #[serde(rename = "type")]
    pub kind: String,
    pub interface: Option<String>,
    /// The private side: map source, bimap internal address, rdr internal address.
    pub subnet: Option<String>,
    /// False for a rule the agent reads but does not model (`map-block`, `from ... to`).
    pub managed: bool,
}

/// The text of a rule line without its comment, whitespace collapsed.
pub fn rule_text(line: &str) -> String {
    line.split('#')
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stable id of a rule: a hash of its canonical form (or of its collapsed text for a rule
/// outside the model), so the same rule however spaced has the same id across restarts.
pub fn rule_id(line: &Line) -> String {
    let key = match line {
        Line::Rule(r) => r.rule().to_string(),
        other => rule_text(other.text()),
    };
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("nat-{hex}")
}

pub fn list(conf: &NatConf) -> Vec<NatRuleInfo> {
    conf.lines()
        .iter()
        .filter(|l| matches!(l, Line::Rule(_) | Line::Other(_)))
        .enumerate()
        .map(|(i, line)| {
            let text = rule_text(line.text());
            let mut words = text.split(' ');
            let (kind, interface, subnet, managed) = match line {
                Line::Rule(r) => {
                    let subnet = match r.rule() {
                        NatRule::Map(m) => m.source.to_string(),
                        NatRule::Bimap(b) => b.internal.to_string(),
                        NatRule::Rdr(r) => r.internal.to_string(),
                    };
                    (
                        r.rule().keyword().to_owned(),
                        Some(r.rule().interface().to_string()),
                        Some(subnet),
                        true,
                    )
                }
                _ => (
                    words.next().unwrap_or_default().to_owned(),
                    words.next().map(str::to_owned),
                    None,
                    false,
                ),
            };
            NatRuleInfo {
                rule_id: i,
                id: rule_id(line),
                rule: text,
                kind,
                interface,
                subnet,
                managed,
            }
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NatRuleList {
    pub success: bool,
    pub rules: Vec<NatRuleInfo>,
    /// Whether ipfilter is online (the rules are active).
    pub ipfilter_enabled: bool,
    pub config_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NatStatus {
    pub success: bool,
    pub service: String,
    /// The SMF state (`online`, `disabled`, `maintenance`, ...).
    pub state: String,
    pub enabled: bool,
    /// Rules active in the kernel (`ipnat -l`), when ipfilter is online.
    pub active_rules: Option<Vec<String>>,
    pub config_path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_indexes_count_rules_only() {
        let conf = NatConf::parse(
            "# nat\nmap igb0 10.0.0.0/24 -> 0/32 portmap tcp/udp auto\n\nmap   igb0 10.0.0.0/24 -> 0.0.0.0/32 # plain\nmap-block igb0 10.1.0.0/24 -> 0/32\n",
        );
        let l = list(&conf);
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].rule_id, 1);
        assert_eq!(l[1].rule, "map igb0 10.0.0.0/24 -> 0.0.0.0/32");
        assert_eq!(l[2].kind, "map-block");
        assert!(!l[2].managed);
        // Same rule, different spacing and spelling of 0/32: same id.
        let again = NatConf::parse("map igb0 10.0.0.0/24 -> 0/32\n");
        assert_eq!(list(&again)[0].id, l[1].id);
    }
}
