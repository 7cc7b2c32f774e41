//! Completions and man pages from the CLI definition; usage errors.

use crate::support::Zw;

#[test]
fn completions_and_man_pages_come_from_the_definition() {
    let zw = Zw::new();
    let bash = zw.run(&["completions", "bash"]).ok();
    assert!(bash.stdout.contains("zw__zones__create") || bash.stdout.contains("zones"));
    assert!(bash.stdout.contains("--disk-size"));
    let man = zw.run(&["man"]).ok();
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH zw"),
        "{man:#?}"
    );
    let dir = zw.home.0.join("man");
    zw.run(&["man", "--out-dir", dir.to_str().unwrap()]).ok();
    let page = std::fs::read_to_string(dir.join("zw-zones-create.1")).unwrap();
    assert!(page.contains("disk\\-size"), "{page}");
    assert!(dir.join("zw-net-dhcp-hosts-add.1").is_file());
}

#[test]
fn usage_errors_exit_2_and_no_host_is_explained() {
    let zw = Zw::new();
    assert_eq!(zw.run(&["zones", "create", "--name", "x"]).code, 2);
    let r = zw.run(&["zones", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("zw login"), "{r:#?}");
}
