//! psrinfo: the processors, by physical socket.
//!
//! The reference and the man page (`man8/psrinfo.8`) show no `-p -v` output; its layout is
//! read from illumos-gate `cmd/psrinfo/psrinfo.c` (`print_vp`): per socket a line "The physical
//! processor has [C cores and ]N virtual processor[s] (IDS)", then either one "  The core has
//! ..." line per core with the implementation and brand indented below, or (one core, or one
//! thread per core) the implementation on "  IMPL" and the brand on "\tBRAND" (followed by
//! "\t[ Socket: S ]" when known). The brand is left out when the implementation starts with it.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

const SOCKET_HEADER: &str = "The physical processor has ";
const CORE_HEADER: &str = "The core has ";

/// One physical processor (socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// The ids of its virtual processors (CPUs).
    pub cpus: Vec<u32>,
    /// `x86 (GenuineIntel 50654 family 6 model 85 step 4 clock 2100 MHz)`.
    pub implementation: String,
    /// `Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz`, when psrinfo printed one.
    pub brand: Option<String>,
}

impl Socket {
    /// The model as a person reads it: the brand, else the implementation.
    pub fn model(&self) -> &str {
        self.brand.as_deref().unwrap_or(&self.implementation)
    }

    /// The clock in MHz, from the implementation's `clock N MHz` (x86), when it says.
    pub fn clock_mhz(&self) -> Option<u32> {
        let rest = &self.implementation[self.implementation.find("clock ")? + "clock ".len()..];
        let (n, unit) = rest.split_once(' ')?;
        unit.starts_with("MHz").then(|| n.parse().ok()).flatten()
    }
}

pub fn physical_verbose_cmd() -> Cmd {
    Cmd::new(Tool::Psrinfo).args(["-p", "-v"]).quiet()
}

/// `0-3 5 7-8` into ids.
fn parse_ids(text: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in text.split_whitespace() {
        match part.split_once('-') {
            Some((a, b)) => ids.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?),
            None => ids.push(part.parse().ok()?),
        }
    }
    Some(ids)
}

pub fn parse_physical_verbose(text: &str) -> Result<Vec<Socket>, ReadError> {
    let bad = |why: String| ReadError::parse(Tool::Psrinfo, why);
    let mut sockets: Vec<Socket> = Vec::new();
    // Lines under the current header that are neither a header nor a core line: the
    // implementation, then the brand.
    let mut described = 0;
    for line in text.lines() {
        if line.starts_with(SOCKET_HEADER) {
            let ids = line
                .rsplit_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .and_then(parse_ids)
                .ok_or_else(|| bad(format!("no processor ids in {line:?}")))?;
            sockets.push(Socket {
                cpus: ids,
                implementation: String::new(),
                brand: None,
            });
            described = 0;
            continue;
        }
        let text = line.trim();
        if text.is_empty() || text.starts_with(CORE_HEADER) {
            continue;
        }
        let socket = sockets
            .last_mut()
            .ok_or_else(|| bad(format!("{line:?} before any processor")))?;
        match described {
            0 => socket.implementation = text.to_owned(),
            1 => {
                // `BRAND\t[ Socket: S ]`, or the socket alone.
                let brand = text.split("[ Socket:").next().unwrap_or("").trim();
                socket.brand = (!brand.is_empty()).then(|| brand.to_owned());
            }
            _ => return Err(bad(format!("unexpected line {line:?}"))),
        }
        described += 1;
    }
    if let Some(s) = sockets.iter().find(|s| s.implementation.is_empty()) {
        return Err(bad(format!(
            "no implementation for processors {:?}",
            s.cpus
        )));
    }
    Ok(sockets)
}

pub async fn sockets(run: &Runner) -> Result<Vec<Socket>, ReadError> {
    parse_physical_verbose(&run.output(&physical_verbose_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Built from psrinfo.c's format strings (print_vp), multi-core form.
    const CORES: &str = "The physical processor has 4 cores and 8 virtual processors (0-7)\n  The core has 2 virtual processors (0 4)\n  The core has 2 virtual processors (1 5)\n  The core has 2 virtual processors (2 6)\n  The core has 2 virtual processors (3 7)\n    x86 (GenuineIntel 50654 family 6 model 85 step 4 clock 2100 MHz)\n      Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz\n";

    #[test]
    fn the_multi_core_form_skips_core_lines() {
        let s = parse_physical_verbose(CORES).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].cpus, (0..8).collect::<Vec<_>>());
        assert_eq!(s[0].model(), "Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz");
        assert_eq!(s[0].clock_mhz(), Some(2100));
    }

    #[test]
    fn the_flat_form_carries_the_brand_after_a_tab_and_the_socket_after_it() {
        // One thread per core: "  IMPL\n\tBRAND\t[ Socket: S ]\n", per socket.
        let text = "The physical processor has 2 virtual processors (0-1)\n  x86 (AuthenticAMD 830F10 family 23 model 49 step 0 clock 2994 MHz)\n\tAMD EPYC 7302 16-Core Processor\t[ Socket: SP3 ]\nThe physical processor has 1 virtual processor (2)\n  x86 (GenuineIntel 306A9 family 6 model 58 step 9 clock 3392 MHz)\n\t[ Socket: Unknown ]\n";
        let s = parse_physical_verbose(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].brand.as_deref(),
            Some("AMD EPYC 7302 16-Core Processor")
        );
        assert_eq!(s[0].clock_mhz(), Some(2994));
        assert_eq!(s[1].cpus, [2]);
        assert_eq!(s[1].brand, None);
        assert!(s[1].model().starts_with("x86 (GenuineIntel"));
    }

    #[test]
    fn ranges_and_single_ids_mix() {
        assert_eq!(parse_ids("0-2 5 7-8"), Some(vec![0, 1, 2, 5, 7, 8]));
        assert_eq!(parse_ids("x"), None);
    }

    #[test]
    fn a_socket_without_an_implementation_or_a_stray_line_is_an_error() {
        assert!(
            parse_physical_verbose("The physical processor has 1 virtual processor (0)\n").is_err()
        );
        assert!(parse_physical_verbose("  x86 (stray)\n").is_err());
        assert!(
            parse_physical_verbose("The physical processor has 1 virtual processor ()x\n").is_err()
        );
        assert_eq!(physical_verbose_cmd().argv(), ["psrinfo", "-p", "-v"]);
    }
}
