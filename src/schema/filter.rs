//! Which tables a command looks at, decided by name before anything is reflected.

use serde::{Deserialize, Serialize};

/// Include/exclude patterns on table names. `*` matches any run of
/// characters, `?` one character; an empty include list includes everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameFilter {
    /// Patterns a table must match one of (empty: all tables).
    #[serde(default)]
    pub include: Vec<String>,
    /// Patterns that exclude a table even when included.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl NameFilter {
    /// A filter that excludes exactly the given names (the tool's own tables).
    pub fn excluding<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        NameFilter { include: Vec::new(), exclude: names.into_iter().map(Into::into).collect() }
    }

    /// Whether the table called `name` passes the filter.
    pub fn matches(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob_match(p, name)))
            && !self.exclude.iter().any(|p| glob_match(p, name))
    }
}

pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matcher with single-star backtracking: linear in practice.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("user*", "users"));
        assert!(glob_match("*_log", "audit_log"));
        assert!(glob_match("t?", "t1"));
        assert!(!glob_match("t?", "t12"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acd"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }

    #[test]
    fn include_then_exclude() {
        let f = NameFilter { include: vec!["app_*".into()], exclude: vec!["app_tmp*".into()] };
        assert!(f.matches("app_users"));
        assert!(!f.matches("app_tmp1"));
        assert!(!f.matches("other"));
        assert!(NameFilter::default().matches("anything"));
        assert!(!NameFilter::excluding(["migrate_version"]).matches("migrate_version"));
    }
}
