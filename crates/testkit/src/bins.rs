//! Where cargo put the workspace's binaries.

use std::path::PathBuf;

/// The profile directory of the running executable: `target/debug` for a test (which runs from
/// `target/debug/deps/`), `target/release` for the bench. Found from the executable's own
/// path, so `CARGO_TARGET_DIR`, `--target TRIPLE` and custom profiles are followed without
/// reading them: the binaries this run needs were built into the same directory.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    let dir = exe.parent().expect("the executable's directory");
    match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().expect("the profile directory").into(),
        _ => dir.into(),
    }
}

/// The workspace binary `name` (`zoneweaver-agent`, `illumos-sim`, ...) built with the running
/// executable's profile. Panics, naming the command that builds it, when it is missing:
/// `cargo test -p X` builds only X's own binaries.
pub fn binary(name: &str) -> PathBuf {
    let dir = target_dir();
    let path = dir.join(name);
    if !path.is_file() {
        let profile = dir.file_name().unwrap_or_default().to_string_lossy();
        let flag = match &*profile {
            "debug" => String::new(),
            "release" => " --release".into(),
            other => format!(" --profile {other}"),
        };
        panic!(
            "{} is missing: build it with `cargo build{flag} --workspace` \
             (`cargo test --workspace` builds it for the tests)",
            path.display()
        );
    }
    path
}
