//! The fuzz targets' bodies (`fuzz/src/lib.rs`) on stable Rust, as CI runs them: each target
//! over its checked-in seeds (`fuzz/seeds/TARGET/`) and a bounded number of deterministic
//! mutations of them. The coverage-guided run is `cargo fuzz` (see `fuzz/README.md`); building
//! it instruments the agent and all its dependencies, which takes longer than CI can give it.

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/lib.rs"]
mod bodies;

type Body = fn(&[u8]);

const TARGETS: &[(&str, Body)] = &[
    ("agent_config", bodies::agent_config::run),
    ("dhcpd_conf", bodies::dhcpd_conf::run),
    ("dhcpd_leases", bodies::dhcpd_leases::run),
    ("dladm", bodies::dladm::run),
    ("ipadm", bodies::ipadm::run),
    ("ipnat_conf", bodies::ipnat_conf::run),
    ("ipnat_list", bodies::ipnat_list::run),
    ("parsable", bodies::parsable::run),
    ("route", bodies::route::run),
    ("smf", bodies::smf::run),
    ("zfs", bodies::zfs::run),
    ("zoneadm", bodies::zoneadm::run),
    ("zonecfg_export", bodies::zonecfg_export::run),
    ("zonecfg_file", bodies::zonecfg_file::run),
];

/// Mutated inputs per seed, and random inputs per target.
const MUTATIONS_PER_SEED: usize = 48;
const RANDOM_INPUTS: usize = 512;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = fuzz_dir().join("seeds").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// xorshift64*: deterministic, so a failure here fails the same way on the next run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes the parsers treat specially, and the two halves of a two-byte UTF-8 character.
const INTERESTING: &[u8] = b":\\\n\r\t \"{};,#/-=*0123456789.\x00\xc3\xa9";

fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 if at < out.len() => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let chunk = out[at..end].to_vec();
                out.splice(at..at, chunk);
            }
            _ if !others.is_empty() => {
                let other = &others[rng.below(others.len())];
                let from = rng.below(other.len());
                let end = (from + rng.below(128)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => {}
        }
    }
    out
}

fn run(target: &str, body: Body, input: &[u8]) {
    if let Err(panic) = std::panic::catch_unwind(|| body(input)) {
        let msg = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        panic!(
            "fuzz target {target} fails on {:?}: {msg}\n(reproduce: cargo fuzz run {target} FILE, with the input in FILE)",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn every_fuzz_target_holds_on_its_seeds_and_their_mutations() {
    let mut rng = Rng(0x5eed_f00d_cafe_d00d);
    for (target, body) in TARGETS {
        let seeds = seeds(target);
        for seed in &seeds {
            run(target, *body, seed);
            for _ in 0..MUTATIONS_PER_SEED {
                let input = mutate(&mut rng, seed, &seeds);
                run(target, *body, &input);
            }
        }
        for _ in 0..RANDOM_INPUTS {
            let len = rng.below(256);
            let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            run(target, *body, &input);
        }
    }
}

#[test]
fn every_cargo_fuzz_target_is_replayed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.trim_end_matches(".rs").to_owned()
        })
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, listed);
}
