//! The layout of the TOML files migrate writes (revision files, pulled
//! models): `[[section]]` blocks whose lists of tables go one per line and
//! whose other values stay on one line, values rendered by the `toml` crate.

use toml::Value;

/// One `[[section]]` block: its keys in order, each `key = value` on a line.
pub(crate) fn section_block(section: &str, table: &toml::Table) -> String {
    let mut out = format!("[[{section}]]\n");
    for (key, value) in table {
        out.push_str(&format!("{} = {}\n", key_text(key), block(value)));
    }
    out
}

pub(crate) fn string_list(items: &[String]) -> String {
    inline(&Value::Array(items.iter().cloned().map(Value::String).collect()))
}

/// A top-level value of an op: a list of tables one per line, multi-line
/// text as a multi-line string, anything else inline.
fn block(value: &Value) -> String {
    match value {
        Value::Array(items) if items.iter().any(Value::is_table) => {
            let lines: Vec<String> = items.iter().map(|item| format!("    {},\n", inline(item))).collect();
            format!("[\n{}]", lines.concat())
        }
        Value::String(s) if s.contains('\n') => value.to_string(),
        other => inline(other),
    }
}

/// A value on one line.
pub(crate) fn inline(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Array(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Table(table) if table.is_empty() => "{}".into(),
        Value::Table(table) => {
            let pairs: Vec<String> = table.iter().map(|(k, v)| format!("{} = {}", key_text(k), inline(v))).collect();
            format!("{{ {} }}", pairs.join(", "))
        }
        other => other.to_string(),
    }
}

/// A TOML basic string on one line.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_text(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_string() } else { quote(key) }
}
