//! libofmt output as dladm and ipadm print it: a header plus padded columns, or with `-p`
//! one `:`-separated line per object, escaping `:` and `\` only when several fields are asked.

pub struct Field {
    pub name: &'static str,
    pub width: usize,
}

pub const fn f(name: &'static str, width: usize) -> Field {
    Field { name, width }
}

/// Resolves `-o a,b` (case-insensitive; `all` = every field) to field indexes.
pub fn select(fields: &[Field], o: Option<&str>, default: &[&str]) -> Result<Vec<usize>, String> {
    let names: Vec<String> = match o {
        None => default.iter().map(|s| s.to_string()).collect(),
        Some(s) if s.eq_ignore_ascii_case("all") => {
            fields.iter().map(|f| f.name.to_string()).collect()
        }
        Some(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
    };
    let mut idx = Vec::new();
    for n in names {
        match fields.iter().position(|f| f.name.eq_ignore_ascii_case(&n)) {
            Some(i) => idx.push(i),
            None => return Err(n),
        }
    }
    Ok(idx)
}

pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace(':', "\\:")
}

pub fn parsable_line(vals: &[String]) -> String {
    if vals.len() == 1 {
        return vals[0].clone();
    }
    vals.iter().map(|v| escape(v)).collect::<Vec<_>>().join(":")
}

/// Human output: upper-case header, each column padded to its width plus one space, the
/// last column unpadded.
pub fn table(fields: &[Field], idx: &[usize], rows: &[Vec<String>], header: bool) -> String {
    let mut out = String::new();
    let line = |vals: Vec<&str>| -> String {
        let mut s = String::new();
        for (k, (v, &i)) in vals.iter().zip(idx).enumerate() {
            if k + 1 == idx.len() {
                s.push_str(v);
            } else {
                s.push_str(&format!("{:<w$} ", v, w = fields[i].width));
            }
        }
        s.trim_end().to_string()
    };
    if header {
        out.push_str(&line(idx.iter().map(|&i| fields[i].name).collect()));
        out.push('\n');
    }
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Output of rows already restricted to the selected fields.
pub fn render(fields: &[Field], idx: &[usize], rows: &[Vec<String>], parsable: bool) -> String {
    if parsable {
        rows.iter().map(|r| parsable_line(r) + "\n").collect()
    } else {
        table(fields, idx, rows, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_only_with_several_fields() {
        let mac = "2:8:20:a3:1b:5c".to_string();
        assert_eq!(parsable_line(std::slice::from_ref(&mac)), "2:8:20:a3:1b:5c");
        assert_eq!(
            parsable_line(&["vm1net0".into(), mac]),
            r"vm1net0:2\:8\:20\:a3\:1b\:5c"
        );
        assert_eq!(parsable_line(&["a\\b".into(), "".into()]), r"a\\b:");
    }
}
