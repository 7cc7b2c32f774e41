//! Time formatting without a date crate: RFC 3339 for the log, ctime-like strings for tools.
//! Always UTC: the emulated host runs in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// (year, month 1-12, day 1-31) from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

struct Tm {
    year: i64,
    mon: u32,
    day: u32,
    hour: u64,
    min: u64,
    sec: u64,
    wday: usize,
}

fn tm(secs: u64) -> Tm {
    let days = (secs / 86_400) as i64;
    let (year, mon, day) = civil(days);
    let rem = secs % 86_400;
    Tm {
        year,
        mon,
        day,
        hour: rem / 3600,
        min: rem % 3600 / 60,
        sec: rem % 60,
        wday: ((days + 4) % 7) as usize,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

pub fn rfc3339_ms(ms: u64) -> String {
    let t = tm(ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.mon,
        t.day,
        t.hour,
        t.min,
        t.sec,
        ms % 1000
    )
}

/// `svcs` STIME: `HH:MM:SS` within the last day, `Mon_DD` before.
pub fn svcs_stime(secs: u64, now: u64) -> String {
    let t = tm(secs);
    if now.saturating_sub(secs) < 86_400 {
        format!("{:02}:{:02}:{:02}", t.hour, t.min, t.sec)
    } else {
        format!("{}_{:02}", MONTHS[(t.mon - 1) as usize], t.day)
    }
}

/// `Dec  5 09:00` (who -r's time of the last run-level change).
pub fn who_time(secs: u64) -> String {
    let t = tm(secs);
    format!(
        "{} {:>2} {:02}:{:02}",
        MONTHS[(t.mon - 1) as usize],
        t.day,
        t.hour,
        t.min
    )
}

/// `Thu Jan 01 00:00:00 2025` (svcs -l / -x).
pub fn ctime(secs: u64) -> String {
    let t = tm(secs);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {}",
        DAYS[t.wday],
        MONTHS[(t.mon - 1) as usize],
        t.day,
        t.hour,
        t.min,
        t.sec,
        t.year
    )
}

/// psrinfo's `%m/%d/%Y %T` (`01/01/2025 00:00:00`), in UTC as every emulated time.
pub fn mdy_hms(secs: u64) -> String {
    let t = tm(secs);
    format!(
        "{:02}/{:02}/{} {:02}:{:02}:{:02}",
        t.mon, t.day, t.year, t.hour, t.min, t.sec
    )
}

/// zfs `creation` without -p: `Wed Jan  1  0:00 2025`.
pub fn zfs_date(secs: u64) -> String {
    let t = tm(secs);
    format!(
        "{} {} {:>2} {:>2}:{:02} {}",
        DAYS[t.wday],
        MONTHS[(t.mon - 1) as usize],
        t.day,
        t.hour,
        t.min,
        t.year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_735_689_600_123), "2025-01-01T00:00:00.123Z");
        assert_eq!(ctime(1_735_689_600), "Wed Jan 01 00:00:00 2025");
        assert_eq!(zfs_date(1_735_689_600), "Wed Jan  1  0:00 2025");
        assert_eq!(mdy_hms(1_735_689_600), "01/01/2025 00:00:00");
        assert_eq!(svcs_stime(1_735_689_600, 1_735_689_700), "00:00:00");
        assert_eq!(svcs_stime(1_735_689_600, 1_745_689_700), "Jan_01");
    }
}
