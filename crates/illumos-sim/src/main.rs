//! `illumos-sim`: a multi-call emulator of the OmniOS host tools.
//!
//! The tool is chosen by the basename of argv[0] (a symlink in `<host>/bin/`), and the host is
//! the parent of the directory holding that symlink, so `<host>/bin/zoneadm list -cp` works with
//! no environment. Invoked under its own name it offers `init`, `config` and `dump`.

mod admin;
mod cloudinit;
mod ctx;
mod faults;
mod getopt;
mod guest;
mod host;
mod invlog;
mod layout;
mod lock;
mod natconf;
mod ofmt;
mod package;
mod pfexec;
mod rbac;
mod services_seed;
mod simconf;
mod state;
mod timefmt;
mod tools;
mod vnc;
mod zonefiles;

use std::path::{Path, PathBuf};
use std::time::Instant;

use ctx::Ctx;
use host::Host;

/// Every tool this binary emulates; `bin/` of a host holds one symlink per name.
pub const TOOLS: &[&str] = &[
    "pfexec", "zonecfg", "zoneadm", "zlogin", "dladm", "ipadm", "routeadm", "route", "svcs",
    "svcadm", "svccfg", "svcprop", "zfs", "zpool", "ipnat", "uname", "kstat", "psrinfo",
    "pagesize", "pfsh", "swap", "netstat", "shutdown", "reboot", "halt", "poweroff", "init", "who",
    "prtconf", "pptadm", "hostname",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    // Setuid-root for an unprivileged caller, this binary is pfexec and nothing else, whatever
    // name it was started under: a tool or `init` must never run with root's ids unchecked.
    let name = if pfexec::enforcing() {
        "pfexec".to_string()
    } else {
        basename(&argv0).to_string()
    };
    // As illumos makes them: new directories 0755 and files 0644, whatever the caller's umask.
    // SAFETY: umask cannot fail.
    unsafe {
        libc::umask(0o022);
    }
    let code = if TOOLS.contains(&name.as_str()) {
        match locate_host(&argv0) {
            Some(host) => {
                if name == "pfexec" {
                    pfexec(&host, &args[1..])
                } else {
                    run_tool(&host, &name, &argv0, &args[1..])
                }
            }
            None => {
                eprintln!("illumos-sim: cannot locate the emulated host for '{argv0}'");
                1
            }
        }
    } else {
        admin::main(&args[1..])
    };
    std::process::exit(code);
}

pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The host dir is the parent of the directory holding the tool link. argv[0] is used as
/// given (never canonicalized: the symlink path, not the binary's, locates the host). A bare
/// name (found through PATH) is looked up in PATH; `ILLUMOS_SIM_HOST` is the last resort.
fn locate_host(argv0: &str) -> Option<Host> {
    if pfexec::enforcing() {
        // Setuid: neither argv[0] nor the environment is the caller's to choose. The binary is
        // `<host>/bin/pfexec` itself (a copy, not a link).
        let exe = std::env::current_exe().ok()?;
        return Some(Host::new(exe.parent()?.parent()?));
    }
    let link: PathBuf = if argv0.contains('/') {
        PathBuf::from(argv0)
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let found = std::env::split_paths(&path)
            .map(|d| d.join(argv0))
            .find(|p| p.symlink_metadata().is_ok());
        match found {
            Some(p) => p,
            None => return std::env::var_os("ILLUMOS_SIM_HOST").map(|h| Host::new(Path::new(&h))),
        }
    };
    let bin = link.parent()?;
    let bin = if bin.as_os_str().is_empty() {
        Path::new(".")
    } else {
        bin
    };
    let host = bin
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| bin.join(".."));
    let host = if host.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        host
    };
    let host = if host.is_relative() {
        std::env::current_dir().ok()?.join(host)
    } else {
        host
    };
    // A tool reached by its path inside the emulated root (`<host>/root/usr/sbin/zfs`): the
    // host is the nearest directory above holding a state file.
    let host = host
        .ancestors()
        .find(|d| d.join("state").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(host);
    Some(Host::new(&host))
}

/// `pfexec [-P privset] PROGRAM args...`: the caller's profile is applied to the program's
/// resolved path (see `pfexec.rs`); then an emulated tool runs in this process against the same
/// host, and anything else is exec'd as a real program (argv, no shell).
fn pfexec(host: &Host, args: &[String]) -> i32 {
    let args = match args.first().map(String::as_str) {
        Some("-P") => args.get(2..).unwrap_or_default(),
        _ => args,
    };
    let Some(program) = args.first() else {
        eprintln!("usage: pfexec [-P privset] cmd [arg ..]");
        return 1;
    };
    let resolved = pfexec::resolve(host, program);
    if let Err(e) = pfexec::apply_profile(host, &resolved) {
        eprintln!("pfexec: {}: {e}", resolved.path);
        return 1;
    }
    if let Some(tool) = resolved.tool {
        return run_tool(host, tool, program, &args[1..]);
    }
    if basename(program) == "pfexec" {
        return pfexec(host, &args[1..]);
    }
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(program).args(&args[1..]).exec();
    eprintln!("pfexec: can't execute {program}: {err}");
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// One tool invocation: faults, the tool itself, then one line in the invocation log.
fn run_tool(host: &Host, tool: &str, argv0: &str, args: &[String]) -> i32 {
    let start = Instant::now();
    let mut cx = match Ctx::open(host, tool, argv0) {
        Ok(cx) => cx,
        Err(e) => {
            eprintln!("{tool}: illumos-sim: {e}");
            return 1;
        }
    };
    let code = match faults::apply(&mut cx, args, start) {
        Some(code) => code,
        None => tools::dispatch(&mut cx, tool, args),
    };
    let fault = cx.fault.clone();
    let code = cx.finish(code, args);
    invlog::append(host, tool, args, Some(code), start, fault.as_deref());
    if fault.as_deref() == Some("kill_parent") {
        // SAFETY: kill(2) and getppid(2) touch no memory of ours.
        unsafe {
            libc::kill(libc::getppid(), libc::SIGKILL);
        }
    }
    code
}
