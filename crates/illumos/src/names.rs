//! Validated names for zones, datasets and sizes: the wrappers take these, never `&str`, so an
//! unvalidated value cannot reach a command line or a zonecfg command file.

use std::fmt;
use std::str::FromStr;

/// Why a value was refused, for a person (the agent puts it in a 400 naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<std::ffi::OsStr> for $name {
            fn as_ref(&self) -> &std::ffi::OsStr {
                self.0.as_ref()
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, InvalidName> {
                s.parse()
            }
        }
    };
}

/// A zone name: 1 to 63 characters, an alphanumeric first, then alphanumerics, `-`, `_`, `.`;
/// not `global`, not starting with `SUNW` (reference §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneName(String);
string_newtype!(ZoneName);

impl FromStr for ZoneName {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        let bad = |why: &str| Err(InvalidName(format!("Invalid zone name: {why}")));
        if s.is_empty() || s.len() > 63 {
            return bad("must be 1 to 63 characters");
        }
        if !s.as_bytes()[0].is_ascii_alphanumeric() {
            return bad("must begin with a letter or digit");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return bad("may contain only letters, digits, '-', '_' and '.'");
        }
        if s == "global" || s.starts_with("SUNW") {
            return bad("'global' and names beginning with SUNW are reserved");
        }
        Ok(ZoneName(s.to_owned()))
    }
}

/// A ZFS filesystem or volume name (no snapshot part): `pool/a/b`, components of
/// `[A-Za-z0-9_.:-]`, shorter than 256 bytes, at most 50 levels deep (reference §3). Spaces,
/// which newer illumos allows, are refused: these names also go into zonecfg values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetName(String);
string_newtype!(DatasetName);

fn check_component(c: &str, what: &str) -> Result<(), InvalidName> {
    if c.is_empty() {
        return Err(InvalidName(format!("{what} has an empty component")));
    }
    if c == "." || c == ".." {
        return Err(InvalidName(format!(
            "{what} may not contain '.' or '..' components"
        )));
    }
    if let Some(bad) = c
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | ':' | '-')))
    {
        return Err(InvalidName(format!(
            "{what} has an invalid character {bad:?}"
        )));
    }
    Ok(())
}

impl FromStr for DatasetName {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        if s.is_empty() || s.len() >= 256 {
            return Err(InvalidName(
                "dataset name must be 1 to 255 characters".into(),
            ));
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > 50 {
            return Err(InvalidName("dataset name is nested too deeply".into()));
        }
        for p in &parts {
            check_component(p, "dataset name")?;
        }
        Pool::from_str(parts[0])?;
        Ok(DatasetName(s.to_owned()))
    }
}

impl DatasetName {
    /// `self/child`.
    pub fn child(&self, component: &str) -> Result<DatasetName, InvalidName> {
        format!("{}/{component}", self.0).parse()
    }

    pub fn parent(&self) -> Option<DatasetName> {
        self.0
            .rsplit_once('/')
            .map(|(p, _)| DatasetName(p.to_owned()))
    }

    pub fn pool(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &DatasetName) -> bool {
        self.0 == other.0 || self.0.starts_with(&format!("{}/", other.0))
    }

    /// The raw device a zone's `device match` names for a volume.
    pub fn zvol_rdsk(&self) -> String {
        format!("/dev/zvol/rdsk/{}", self.0)
    }

    pub fn snapshot(&self, snap: &str) -> Result<SnapshotName, InvalidName> {
        format!("{}@{snap}", self.0).parse()
    }
}

/// A pool name: starts with a letter; not `mirror`, `raidz`, `spare`, `log`; not disk-like.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool(String);
string_newtype!(Pool);

impl FromStr for Pool {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        check_component(s, "pool name")?;
        if !s.as_bytes()[0].is_ascii_alphabetic() {
            return Err(InvalidName("pool name must begin with a letter".into()));
        }
        let disk_like = s.len() > 1 && s.starts_with('c') && s.as_bytes()[1].is_ascii_digit();
        if matches!(s, "mirror" | "raidz" | "spare" | "log") || s.starts_with("raidz") || disk_like
        {
            return Err(InvalidName(format!("pool name {s:?} is reserved")));
        }
        Ok(Pool(s.to_owned()))
    }
}

/// `dataset@snap`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotName(String);
string_newtype!(SnapshotName);

impl FromStr for SnapshotName {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        let (ds, snap) = s
            .split_once('@')
            .ok_or_else(|| InvalidName("snapshot name needs '@'".into()))?;
        DatasetName::from_str(ds)?;
        check_component(snap, "snapshot name")?;
        if s.len() >= 256 {
            return Err(InvalidName("snapshot name is too long".into()));
        }
        Ok(SnapshotName(s.to_owned()))
    }
}

impl SnapshotName {
    pub fn dataset(&self) -> DatasetName {
        DatasetName(self.0.split('@').next().unwrap_or_default().to_owned())
    }
}

/// A ZFS size (`30G`, `512M`, `1073741824`): digits with an optional unit K, M, G, T, P, E
/// (any case, optional B). Kept as written: zfs parses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Size(String, u64);
impl Size {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn bytes(&self) -> u64 {
        self.1
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Size {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        let bad = || {
            InvalidName(format!(
                "invalid size {s:?}: digits with an optional unit K, M, G, T or P (e.g. 30G)"
            ))
        };
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(digits_end);
        if num.is_empty() || num.len() > 19 {
            return Err(bad());
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        let unit = unit.to_ascii_uppercase();
        let unit = unit.strip_suffix('B').unwrap_or(&unit);
        let shift = match unit {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            "T" => 40,
            "P" => 50,
            "E" => 60,
            _ => return Err(bad()),
        };
        let bytes = n.checked_mul(1u64 << shift).ok_or_else(bad)?;
        if bytes == 0 {
            return Err(InvalidName("size must be greater than zero".into()));
        }
        Ok(Size(s.to_owned(), bytes))
    }
}

/// A value written into a zonecfg command file inside double quotes: printable ASCII, no
/// double quote, backslash or `;`, at most 1024 characters. Spaces are allowed (an SSH key's
/// comment), since the value is quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZonecfgValue(String);
string_newtype!(ZonecfgValue);

impl FromStr for ZonecfgValue {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        if s.len() > 1024 {
            return Err(InvalidName("value is longer than 1024 characters".into()));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_graphic() || *c == ' ') || matches!(c, '"' | '\\' | ';'))
        {
            return Err(InvalidName(format!("value may not contain {c:?}")));
        }
        Ok(ZonecfgValue(s.to_owned()))
    }
}

/// A zone `attr` name: alphanumeric first, then alphanumerics, `-`, `_`, `.`; not `zone*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrName(String);
string_newtype!(AttrName);

impl FromStr for AttrName {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !s.starts_with("zone");
        if ok {
            Ok(AttrName(s.to_owned()))
        } else {
            Err(InvalidName(format!("invalid attr name {s:?}")))
        }
    }
}

/// An absolute path on the host for zonecfg (an ISO to lofs-mount): `/`-separated components
/// of `[A-Za-z0-9_.,+@%=-]`, no `.`/`..` components, at most 1023 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPath(String);
string_newtype!(HostPath);

impl FromStr for HostPath {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        if !s.starts_with('/') || s.len() > 1023 || s.len() < 2 {
            return Err(InvalidName("path must be absolute".into()));
        }
        for c in s[1..].split('/') {
            if c.is_empty() || c == "." || c == ".." {
                return Err(InvalidName(
                    "path may not contain empty, '.' or '..' components".into(),
                ));
            }
            if c.len() > 255 {
                return Err(InvalidName(
                    "path component is longer than 255 characters".into(),
                ));
            }
            if let Some(bad) = c.chars().find(|ch| {
                !(ch.is_ascii_alphanumeric()
                    || matches!(ch, '_' | '.' | ',' | '+' | '@' | '%' | '=' | '-'))
            }) {
                return Err(InvalidName(format!(
                    "path has an invalid character {bad:?}"
                )));
            }
        }
        Ok(HostPath(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "a;b",
        "a b",
        "a\"b",
        "a'b",
        "a\nb",
        "a\0b",
        "a$(id)",
        "a`id`",
        "a|b",
        "a&b",
        "a>b",
        "a\\b",
        "a}b",
        "a#b",
        "ａｂｃ",
        "a\u{2044}b",
    ];

    #[test]
    fn zone_names_follow_the_illumos_rules() {
        for ok in ["web-server-01", "a", "vm_1.test", "9lives", &"z".repeat(63)] {
            assert!(ok.parse::<ZoneName>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "global",
            "SUNWfoo",
            &"z".repeat(64),
            "a/b",
            "..",
        ] {
            assert!(bad.parse::<ZoneName>().is_err(), "{bad}");
        }
        for bad in HOSTILE {
            assert!(bad.parse::<ZoneName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dataset_names_follow_the_zfs_rules() {
        for ok in ["rpool", "rpool/zones/web-01/root", "tank/a:b/c.d_e-f"] {
            assert!(ok.parse::<DatasetName>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/rpool",
            "rpool/",
            "rpool//x",
            "rpool/x@s",
            "rpool/../etc",
            "1pool/x",
            "mirror/x",
            "c0t0d0/x",
            "rpool/a b",
        ] {
            assert!(bad.parse::<DatasetName>().is_err(), "{bad}");
        }
        for bad in HOSTILE {
            assert!(
                format!("rpool/{bad}").parse::<DatasetName>().is_err(),
                "{bad:?}"
            );
        }
        let d: DatasetName = "rpool/zones/a".parse().unwrap();
        assert!(d.child("root").unwrap().is_within(&d));
        assert!(!"rpool/zones/ab"
            .parse::<DatasetName>()
            .unwrap()
            .is_within(&d));
        assert_eq!(d.zvol_rdsk(), "/dev/zvol/rdsk/rpool/zones/a");
        assert_eq!(d.parent().unwrap().as_str(), "rpool/zones");
    }

    #[test]
    fn sizes_take_units_and_refuse_nonsense() {
        assert_eq!("30G".parse::<Size>().unwrap().bytes(), 30 << 30);
        assert_eq!("512m".parse::<Size>().unwrap().bytes(), 512 << 20);
        assert_eq!("1024".parse::<Size>().unwrap().bytes(), 1024);
        assert_eq!("2TB".parse::<Size>().unwrap().bytes(), 2 << 40);
        for bad in [
            "",
            "G",
            "0",
            "1.5G",
            "-1G",
            "10X",
            "99999999999999999999",
            "1G;rm",
            "16E",
        ] {
            assert!(bad.parse::<Size>().is_err(), "{bad}");
        }
    }

    #[test]
    fn zonecfg_values_cannot_break_out_of_their_quotes() {
        assert!("ssh-rsa AAAAB3Nz user@host".parse::<ZonecfgValue>().is_ok());
        for bad in ["a\"b", "a;b", "a\nb", "a\\b", "a\0b", "tab\there", "ü"] {
            assert!(bad.parse::<ZonecfgValue>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_paths_are_absolute_and_plain() {
        assert!("/iso/omnios-r151050.iso".parse::<HostPath>().is_ok());
        for bad in [
            "iso/x.iso",
            "/iso/../etc/shadow",
            "/a//b",
            "/a b",
            "/",
            "/a;b",
        ] {
            assert!(bad.parse::<HostPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn attr_names_refuse_the_reserved_prefix() {
        assert!("cloud-init".parse::<AttrName>().is_ok());
        assert!("zonepath".parse::<AttrName>().is_err());
        assert!("-x".parse::<AttrName>().is_err());
    }
}
