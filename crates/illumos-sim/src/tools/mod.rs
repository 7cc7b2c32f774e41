//! One module per emulated tool; each exposes `run(cx, args) -> exit code`.

pub mod console;
pub mod devices;
pub mod dladm;
pub mod dladm_aggr;
pub mod dladm_bridge;
pub mod ipadm;
pub mod ipnat;
pub mod netstat;
pub mod pfsh;
pub mod power;
pub mod route;
pub mod routeadm;
pub mod smf;
pub mod svcadm;
pub mod svccfg;
pub mod svcprop;
pub mod svcs;
pub mod svcs_rel;
pub mod swap;
pub mod swap_list;
pub mod system;
pub mod vlan;
pub mod zfs;
pub mod zfsprops;
pub mod zlogin;
pub mod zoneadm;
pub mod zonecfg;
pub mod zonecfg_lang;
pub mod zpool;

use crate::ctx::Ctx;

pub fn dispatch(cx: &mut Ctx, tool: &str, args: &[String]) -> i32 {
    match tool {
        "zonecfg" => zonecfg::run(cx, args),
        "zoneadm" => zoneadm::run(cx, args),
        "zlogin" => zlogin::run(cx, args),
        "dladm" => dladm::run(cx, args),
        "ipadm" => ipadm::run(cx, args),
        "routeadm" => routeadm::run(cx, args),
        "route" => route::run(cx, args),
        "svcs" => svcs::run(cx, args),
        "svcadm" => svcadm::run(cx, args),
        "svccfg" => svccfg::run(cx, args),
        "svcprop" => svcprop::run(cx, args),
        "zfs" => zfs::run(cx, args),
        "zpool" => zpool::run(cx, args),
        "ipnat" => ipnat::run(cx, args),
        "uname" => system::uname(cx, args),
        "hostname" => system::hostname(cx, args),
        "kstat" => system::kstat(cx, args),
        "psrinfo" => system::psrinfo(cx, args),
        "pagesize" => system::pagesize(cx, args),
        "pfsh" => pfsh::run(cx, args),
        // The areas (-l) and the totals (-s) were written for two readers; one tool answers both.
        "swap" if args.first().is_some_and(|a| a == "-l") => swap_list::run(cx, args),
        "swap" => swap::run(cx, args),
        "netstat" => netstat::run(cx, args),
        "prtconf" => devices::prtconf(cx, args),
        "pptadm" => devices::pptadm(cx, args),
        "shutdown" | "reboot" | "halt" | "poweroff" | "init" | "who" => power::run(cx, args),
        _ => {
            cx.errln(&format!("illumos-sim: {tool}: not an emulated tool"));
            1
        }
    }
}
