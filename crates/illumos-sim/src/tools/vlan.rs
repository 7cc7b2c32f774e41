//! `dladm create-vlan` and `delete-vlan` (show-vlan is one of dladm's views). The reference is
//! silent on VLAN links; these follow illumos-gate `usr/src/cmd/dladm/dladm.c`
//! (`do_create_vlan`, `do_delete_vlan`: failures are `die_dlerr`, `<action> failed: <status>`)
//! and `dladm.8` (a VLAN goes over a physical link or an aggregation; without a name it is
//! called `<driver><1000 * VID + instance>` after the underlying device).

use crate::ctx::Ctx;
use crate::state::Link;

use super::dladm::{check_link_name, die, opts};

fn usage(cx: &mut Ctx) -> i32 {
    die(cx, "usage: create-vlan [-ft] -l <link> -v <vid> [link]")
}

pub fn create(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "tfR:l:v:p:") else {
        return 1;
    };
    let (Some(over), Some(v)) = (o.val('l').map(String::from), o.val('v')) else {
        return usage(cx);
    };
    if o.operands.len() > 1 {
        return usage(cx);
    }
    let vid = match v.parse::<u16>() {
        Ok(n) if (1..=4094).contains(&n) => n,
        _ => return die(cx, &format!("invalid VLAN identifier '{v}'")),
    };
    let Some(under) = cx.st.links.get(&over).cloned() else {
        return die(cx, &format!("invalid link name '{over}'"));
    };
    let name = match o.operands.first() {
        Some(n) => n.clone(),
        None => {
            let device = under
                .phys
                .as_ref()
                .map_or(over.clone(), |p| p.device.clone());
            let drv = device.trim_end_matches(|c: char| c.is_ascii_digit());
            let ppa: u32 = device[drv.len()..].parse().unwrap_or(0);
            format!("{drv}{}", 1000 * u32::from(vid) + ppa)
        }
    };
    if let Err(m) = check_link_name(&name) {
        return die(cx, &m);
    }
    if under.class != "phys" && under.class != "aggr" {
        return die(cx, "create operation failed: invalid argument");
    }
    let vid_taken = cx
        .st
        .links
        .values()
        .any(|l| l.class == "vlan" && l.over == over && l.vid == vid);
    if cx.st.links.contains_key(&name) || vid_taken {
        return die(cx, "create operation failed: object already exists");
    }
    cx.st.links.insert(
        name,
        Link {
            class: "vlan".into(),
            over,
            mac: under.mac.clone(),
            mac_type: String::new(),
            vid,
            mtu: under.mtu,
            temporary: o.has('t'),
            zone: None,
            phys: None,
        },
    );
    cx.touch();
    0
}

pub fn delete(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "R:t") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: delete-vlan [-t] <link>");
    };
    let Some(link) = cx.st.links.get(name) else {
        return die(cx, "delete operation failed: object not found");
    };
    if link.class != "vlan" {
        return die(cx, "delete operation failed: invalid argument");
    }
    let busy = link.zone.is_some()
        || cx.st.ifs.contains_key(name)
        || cx.st.links.values().any(|l| l.over == *name);
    if busy {
        return die(cx, "delete operation failed: link busy");
    }
    cx.st.links.remove(name);
    cx.touch();
    0
}
