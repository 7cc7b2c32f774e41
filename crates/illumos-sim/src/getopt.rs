//! POSIX getopt(3) as the illumos tools use it: options end at the first operand or `--`,
//! flags may be grouped (`-Hp`), an option's argument may be attached (`-oname`) or separate.
//! Long options (dladm/ipadm `--temporary`) map onto their short letters.

#[derive(Debug, PartialEq)]
pub enum OptError {
    Unknown(String),
    MissingArg(char),
}

#[derive(Debug, Default)]
pub struct Opts {
    pub opts: Vec<(char, String)>,
    pub operands: Vec<String>,
}

impl Opts {
    pub fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }
    /// The last value given for `c`.
    pub fn val(&self, c: char) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .map(|(_, v)| v.as_str())
    }
    pub fn vals(&self, c: char) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(o, _)| *o == c)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub fn getopt(args: &[String], spec: &str, long: &[(&str, char)]) -> Result<Opts, OptError> {
    let takes_arg = |c: char| {
        spec.find(c)
            .is_some_and(|i| spec[i + c.len_utf8()..].starts_with(':'))
    };
    let known = |c: char| c != ':' && spec.contains(c);
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(name) = a.strip_prefix("--") {
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let Some(&(_, c)) = long.iter().find(|(n, _)| *n == name) else {
                return Err(OptError::Unknown(a.clone()));
            };
            if takes_arg(c) {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().ok_or(OptError::MissingArg(c))?
                    }
                };
                o.opts.push((c, v));
            } else {
                o.opts.push((c, String::new()));
            }
            i += 1;
            continue;
        }
        if !a.starts_with('-') || a.len() < 2 {
            break;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            if !known(c) {
                return Err(OptError::Unknown(format!("-{c}")));
            }
            if takes_arg(c) {
                let rest: String = chars[j + 1..].iter().collect();
                let v = if !rest.is_empty() {
                    rest
                } else {
                    i += 1;
                    args.get(i).cloned().ok_or(OptError::MissingArg(c))?
                };
                o.opts.push((c, v));
                break;
            }
            o.opts.push((c, String::new()));
            j += 1;
        }
        i += 1;
    }
    o.operands = args[i.min(args.len())..].to_vec();
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn grouped_flags_attached_args_and_operands() {
        let o = getopt(&v("-Hpo name,used -r rpool -x"), "Hpo:rd:", &[]).unwrap();
        assert!(o.has('H') && o.has('p') && o.has('r'));
        assert_eq!(o.val('o'), Some("name,used"));
        assert_eq!(o.operands, v("rpool -x"));
        let o = getopt(&v("-oLINK --parsable x"), "po:", &[("parsable", 'p')]).unwrap();
        assert_eq!(o.val('o'), Some("LINK"));
        assert!(o.has('p'));
        assert_eq!(
            getopt(&v("-q"), "p", &[]).unwrap_err(),
            OptError::Unknown("-q".into())
        );
        assert_eq!(
            getopt(&v("-o"), "o:", &[]).unwrap_err(),
            OptError::MissingArg('o')
        );
    }
}
