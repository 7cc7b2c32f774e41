//! `dladm create-vlan`, `delete-vlan` and `show-vlan` (illumos-gate `usr/src/cmd/dladm/dladm.c`:
//! the reference is silent on VLAN links).
//!
//! Failures are `die_dlerr` texts, `dladm: create operation failed: <status>` and
//! `dladm: delete operation failed: <status>`; an unknown underlying link is
//! `dladm: invalid link name 'LINK'` as for VNICs.

use crate::cmd::{Cmd, Tool};
use crate::link::{LinkName, VlanId};
use crate::parsable::{field_arg, parse_records, ParseError, Record};
use crate::persistence::Persistence;
use crate::runner::Runner;

use super::{classify, invalid_link_name, show, LinkFailure, ShowError, OBJECT_EXISTS};

/// `dladm: delete operation failed: invalid argument`: delete-vlan on a link that is not a
/// VLAN (`dladm_vlan_delete` checks the class; the status mapping is inferred).
pub const INVALID_ARGUMENT: &str = "invalid argument";

pub const VLAN_FIELDS: &[&str] = &["LINK", "VID", "OVER", "FLAGS"];

#[derive(Debug, thiserror::Error)]
#[error("cannot create VLAN {name} over {over}")]
pub struct CreateVlanError {
    pub name: LinkName,
    pub over: LinkName,
    #[source]
    pub kind: LinkFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot delete VLAN {name}")]
pub struct DeleteVlanError {
    pub name: LinkName,
    #[source]
    pub kind: LinkFailure,
}

/// What `create-vlan` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateVlan {
    pub name: LinkName,
    pub over: LinkName,
    pub vid: VlanId,
    /// `-f`: create it although the link's MTU may then be too large for tagged frames.
    pub force: bool,
    pub persistence: Persistence,
}

/// One line of `show-vlan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vlan {
    pub link: LinkName,
    pub vid: VlanId,
    pub over: LinkName,
    /// Five positional flags (`f` forced, `i` implicit, `-` when clear), as printed.
    pub flags: String,
}

pub fn create_vlan_cmd(spec: &CreateVlan) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("create-vlan")
        .args(spec.force.then_some("-f"))
        .args(spec.persistence.flag())
        .args(["-l", spec.over.as_str()])
        .arg("-v")
        .arg(spec.vid.to_string())
        .arg(spec.name.as_str())
}

pub fn delete_vlan_cmd(name: &LinkName, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("delete-vlan")
        .args(persistence.flag())
        .arg(name.as_str())
}

pub fn show_vlan_cmd(name: Option<&LinkName>) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("show-vlan")
        .args(["-p", "-o"])
        .arg(field_arg(VLAN_FIELDS))
        .args(name.map(LinkName::as_str))
}

fn parse_vlan(r: &Record<'_>) -> Result<Vlan, ParseError> {
    Ok(Vlan {
        link: r.parse("LINK")?,
        vid: r.parse("VID")?,
        over: r.parse("OVER")?,
        flags: r.require("FLAGS")?.to_owned(),
    })
}

/// Parses `show-vlan -p -o LINK,VID,OVER,FLAGS`.
pub fn parse_show_vlan(text: &str) -> Result<Vec<Vlan>, ParseError> {
    parse_records("dladm show-vlan", text, VLAN_FIELDS, parse_vlan)
}

/// Creates a VLAN link. `AlreadyExists` (the name is taken), `OverNotFound`, or the command's
/// own error (a link that cannot carry VLANs, a VID already used over it).
pub async fn create_vlan(run: &Runner, spec: &CreateVlan) -> Result<(), CreateVlanError> {
    run.output(&create_vlan_cmd(spec))
        .await
        .map(drop)
        .map_err(|e| CreateVlanError {
            name: spec.name.clone(),
            over: spec.over.clone(),
            kind: classify(e, |s| {
                if s.contains(OBJECT_EXISTS) {
                    Some(LinkFailure::AlreadyExists)
                } else if invalid_link_name(s) == Some(spec.over.as_str()) {
                    Some(LinkFailure::OverNotFound)
                } else {
                    None
                }
            }),
        })
}

/// Deletes a VLAN link. `NotFound`, `Busy` (an IP interface or VNIC on it) or `WrongClass`.
pub async fn delete_vlan(
    run: &Runner,
    name: &LinkName,
    persistence: Persistence,
) -> Result<(), DeleteVlanError> {
    run.output(&delete_vlan_cmd(name, persistence))
        .await
        .map(drop)
        .map_err(|e| DeleteVlanError {
            name: name.clone(),
            kind: classify(e, |s| {
                if s.contains(super::OBJECT_NOT_FOUND) || invalid_link_name(s).is_some() {
                    Some(LinkFailure::NotFound)
                } else if s.contains(super::LINK_BUSY) {
                    Some(LinkFailure::Busy)
                } else if s.contains(INVALID_ARGUMENT) {
                    Some(LinkFailure::WrongClass)
                } else {
                    None
                }
            }),
        })
}

pub async fn show_vlans(run: &Runner) -> Result<Vec<Vlan>, ShowError> {
    Ok(show(run, "show-vlan", show_vlan_cmd(None), parse_show_vlan)
        .await?
        .unwrap_or_default())
}

/// The VLAN of that name, `None` when there is no such VLAN link.
pub async fn get_vlan(run: &Runner, name: &LinkName) -> Result<Option<Vlan>, ShowError> {
    Ok(
        show(run, "show-vlan", show_vlan_cmd(Some(name)), parse_show_vlan)
            .await?
            .and_then(|v| v.into_iter().next()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(s: &str) -> LinkName {
        s.parse().unwrap()
    }

    #[test]
    fn create_vlan_argv_puts_the_name_last() {
        let spec = CreateVlan {
            name: link("igb12000"),
            over: link("igb0"),
            vid: VlanId::new(12).unwrap(),
            force: true,
            persistence: Persistence::Temporary,
        };
        assert_eq!(
            create_vlan_cmd(&spec).argv(),
            [
                "dladm",
                "create-vlan",
                "-f",
                "-t",
                "-l",
                "igb0",
                "-v",
                "12",
                "igb12000"
            ]
        );
        assert_eq!(
            delete_vlan_cmd(&link("igb12000"), Persistence::Persistent).argv(),
            ["dladm", "delete-vlan", "igb12000"]
        );
    }

    #[test]
    fn show_vlan_reads_the_flags_column_as_printed() {
        // dladm show-vlan -p -o LINK,VID,OVER,FLAGS
        let v = parse_show_vlan("igb12000:12:igb0:-----\nweb7:7:aggr1:f----\n").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].vid.get(), 12);
        assert_eq!(v[1].over.as_str(), "aggr1");
        assert_eq!(v[1].flags, "f----");
        assert!(parse_show_vlan("igb12000:0:igb0:-----").is_err(), "VID 0");
        assert!(parse_show_vlan("igb12000:12:igb0").is_err(), "field count");
    }
}
