//! DAG, target and plan tests on in-memory revision maps.

use super::*;
use crate::ops::Op;
use crate::schema::{Column, ColumnType, Table};

fn rev(id: &str, parents: &[&str], labels: &[&str], depends_on: &[&str]) -> Revision {
    Revision {
        file: RevisionFile {
            revision: id.into(),
            down_revision: parents.iter().map(|p| p.to_string()).collect(),
            branch_labels: labels.iter().map(|l| l.to_string()).collect(),
            depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
            message: format!("rev {id}"),
            created_at: None,
            upgrade: Vec::new(),
            downgrade: Vec::new(),
        },
        path: PathBuf::from(format!("versions/{id}.toml")),
        source: String::new(),
        checksum: String::new(),
    }
}

fn map(revs: Vec<Revision>) -> RevisionMap {
    RevisionMap::new(revs).unwrap()
}

fn err(revs: Vec<Revision>) -> String {
    RevisionMap::new(revs).unwrap_err().to_string()
}

/// a1 <- a2 <- a3 (a linear chain)
fn chain() -> RevisionMap {
    map(vec![rev("a1aa", &[], &[], &[]), rev("a2aa", &["a1aa"], &[], &[]), rev("a3aa", &["a2aa"], &[], &[])])
}

/// root <- b1 (label billing) <- b2 ; root <- c1 <- c2 ; merge m of b2, c2
fn branches() -> RevisionMap {
    map(vec![
        rev("root", &[], &[], &[]),
        rev("b1bb", &["root"], &["billing"], &[]),
        rev("b2bb", &["b1bb"], &[], &[]),
        rev("c1cc", &["root"], &[], &[]),
        rev("c2cc", &["c1cc"], &[], &[]),
        rev("mmmm", &["b2bb", "c2cc"], &[], &[]),
    ])
}

fn ids(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(|s| s.revision.as_str()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn linear_chain_plans() {
    let m = chain();
    assert_eq!(m.heads(), ["a3aa"]);
    assert_eq!(m.bases(), ["a1aa"]);
    let up = m.upgrade_plan(&[], "head").unwrap();
    assert_eq!(ids(&up), ["a1aa", "a2aa", "a3aa"]);
    assert_eq!(up[0].heads_before, Vec::<String>::new());
    assert_eq!(up[1].heads_before, ["a1aa"]);
    assert_eq!(up[2].heads_after, ["a3aa"]);
    assert!(m.upgrade_plan(&strings(&["a3aa"]), "head").unwrap().is_empty());
    assert_eq!(ids(&m.upgrade_plan(&strings(&["a1aa"]), "+1").unwrap()), ["a2aa"]);
    assert_eq!(ids(&m.upgrade_plan(&[], "+2").unwrap()), ["a1aa", "a2aa"]);
    assert_eq!(ids(&m.upgrade_plan(&[], "a2aa").unwrap()), ["a1aa", "a2aa"]);
    assert_eq!(ids(&m.upgrade_plan(&[], "a1aa+1").unwrap()), ["a1aa", "a2aa"]);
    let down = m.downgrade_plan(&strings(&["a3aa"]), "base").unwrap();
    assert_eq!(ids(&down), ["a3aa", "a2aa", "a1aa"]);
    assert_eq!(down[2].heads_after, Vec::<String>::new());
    assert_eq!(ids(&m.downgrade_plan(&strings(&["a3aa"]), "-1").unwrap()), ["a3aa"]);
    assert_eq!(ids(&m.downgrade_plan(&strings(&["a3aa"]), "-3").unwrap()), ["a3aa", "a2aa", "a1aa"]);
    // Overshooting is an error, not a shorter move.
    let past_base = m.downgrade_plan(&strings(&["a2aa"]), "-3").unwrap_err().to_string();
    assert_eq!(past_base, "relative target -3 from a2aa goes past base: 2 revisions that way");
    let past_head = m.upgrade_plan(&[], "+4").unwrap_err().to_string();
    assert_eq!(past_head, "relative target +4 from base goes past a head: 3 revisions that way");
    assert_eq!(ids(&m.downgrade_plan(&strings(&["a3aa"]), "a3aa-2").unwrap()), ["a3aa", "a2aa"]);
    assert_eq!(ids(&m.downgrade_plan(&strings(&["a3aa"]), "a1aa").unwrap()), ["a3aa", "a2aa"]);
    let not_applied = m.downgrade_plan(&strings(&["a1aa"]), "a3aa").unwrap_err().to_string();
    assert_eq!(not_applied, "downgrade target a3aa is not applied");
    assert!(m.upgrade_plan(&strings(&["zzzz"]), "head").unwrap_err().to_string().contains("not in the script"));
}

#[test]
fn branches_and_merge_points() {
    let m = branches();
    assert_eq!(m.heads(), ["mmmm"]);
    assert_eq!(m.branch_points(), [("root", vec!["b1bb", "c1cc"])]);
    let up = m.upgrade_plan(&[], "head").unwrap();
    // Depth first: the first parent's branch is finished before the second's.
    assert_eq!(ids(&up), ["root", "b1bb", "b2bb", "c1cc", "c2cc", "mmmm"]);
    assert_eq!(up[3].heads_after, ["b2bb", "c1cc"]);
    assert_eq!(up[5].heads_before, ["b2bb", "c2cc"]);
    assert_eq!(up[5].heads_after, ["mmmm"]);
    // Down through the merge point: both parents come back as heads.
    let down = m.downgrade_plan(&strings(&["mmmm"]), "root").unwrap();
    assert_eq!(ids(&down), ["mmmm", "c2cc", "c1cc", "b2bb", "b1bb"]);
    assert_eq!(down[0].heads_after, ["b2bb", "c2cc"]);
    assert_eq!(down[2].heads_after, ["b2bb"], "root stays covered by b2bb");
    assert_eq!(down[4].heads_after, ["root"]);
    // Labels.
    assert_eq!(ids(&m.upgrade_plan(&[], "billing").unwrap()), ["root", "b1bb"]);
    assert_eq!(ids(&m.upgrade_plan(&strings(&["b1bb"]), "billing@+1").unwrap()), ["b2bb"]);
    assert_eq!(ids(&m.downgrade_plan(&strings(&["b2bb", "c1cc"]), "billing@-1").unwrap()), ["b2bb"]);
    // `+1` from a branch point is ambiguous.
    let ambiguous = m.upgrade_plan(&strings(&["root"]), "+1").unwrap_err().to_string();
    assert!(ambiguous.contains("ambiguous"), "{ambiguous}");
}

#[test]
fn multiple_heads_need_a_name() {
    let m = map(vec![
        rev("root", &[], &[], &[]),
        rev("b1bb", &["root"], &["billing"], &[]),
        rev("c1cc", &["root"], &["crm"], &[]),
    ]);
    let e = m.upgrade_plan(&[], "head").unwrap_err().to_string();
    assert!(e.starts_with("multiple heads (b1bb, c1cc)"), "{e}");
    assert_eq!(ids(&m.upgrade_plan(&[], "heads").unwrap()), ["root", "b1bb", "c1cc"]);
    assert_eq!(ids(&m.upgrade_plan(&[], "crm@head").unwrap()), ["root", "c1cc"]);
    let e = m.upgrade_plan(&[], "root@head").unwrap_err().to_string();
    assert!(e.starts_with("multiple heads"), "{e}");
    let steps = m.upgrade_plan(&[], "heads").unwrap();
    assert_eq!(steps[2].heads_after, ["b1bb", "c1cc"]);
    let down = m.downgrade_plan(&strings(&["b1bb", "c1cc"]), "billing@-1").unwrap();
    assert_eq!(ids(&down), ["b1bb"]);
    assert_eq!(down[0].heads_after, ["c1cc"], "root stays covered by c1cc");
}

#[test]
fn dependencies_come_first_and_stay_heads() {
    let m = map(vec![
        rev("a1aa", &[], &["alpha"], &[]),
        rev("a2aa", &["a1aa"], &[], &[]),
        rev("b1bb", &[], &["beta"], &["a2aa"]),
    ]);
    let up = m.upgrade_plan(&[], "beta@head").unwrap();
    assert_eq!(ids(&up), ["a1aa", "a2aa", "b1bb"]);
    assert_eq!(up[2].heads_after, ["a2aa", "b1bb"]);
    // Undoing a2 takes b1, which depends on it, down first.
    let down = m.downgrade_plan(&strings(&["a2aa", "b1bb"]), "a1aa").unwrap();
    assert_eq!(ids(&down), ["b1bb", "a2aa"]);
    assert_eq!(down[1].heads_after, ["a1aa"]);
    let by_label = map(vec![rev("a1aa", &[], &["alpha"], &[]), rev("b1bb", &[], &[], &["alpha"])]);
    assert_eq!(ids(&by_label.upgrade_plan(&[], "b1bb").unwrap()), ["a1aa", "b1bb"]);
}

#[test]
fn invalid_graphs_are_refused() {
    assert_eq!(
        err(vec![rev("a1aa", &[], &[], &[]), rev("a1aa", &[], &[], &[])]),
        "duplicate revision id a1aa in versions/a1aa.toml and versions/a1aa.toml"
    );
    assert_eq!(err(vec![rev("a1aa", &["nope"], &[], &[])]), "versions/a1aa.toml: down_revision nope does not exist");
    assert!(
        err(vec![rev("a1aa", &[], &[], &["nope"])]).starts_with("versions/a1aa.toml: depends_on nope: no revision")
    );
    let cycle = err(vec![rev("a1aa", &["b1bb"], &[], &[]), rev("b1bb", &["a1aa"], &[], &[])]);
    assert!(cycle.starts_with("cycle in the revision graph through"), "{cycle}");
    let dep_cycle = err(vec![rev("a1aa", &[], &[], &["b1bb"]), rev("b1bb", &["a1aa"], &[], &[])]);
    assert!(dep_cycle.starts_with("cycle"), "{dep_cycle}");
    assert!(err(vec![rev("a1aa", &[], &["x"], &[]), rev("b1bb", &[], &["x"], &[])]).contains("used twice"));
    assert!(err(vec![rev("a1aa", &[], &["b1bb"], &[]), rev("b1bb", &[], &[], &[])]).contains("also a revision id"));
}

#[test]
fn ids_prefixes_and_errors() {
    let m = map(vec![
        rev("abcd1234", &[], &[], &[]),
        rev("abcd5678", &["abcd1234"], &[], &[]),
        rev("ffff0000", &["abcd5678"], &[], &[]),
    ]);
    assert_eq!(m.resolve("ffff").unwrap().file.revision, "ffff0000");
    assert_eq!(m.resolve("abcd1").unwrap().file.revision, "abcd1234");
    assert_eq!(m.resolve("abcd").unwrap_err().to_string(), "`abcd` is ambiguous: abcd1234, abcd5678");
    assert!(m.resolve("ff").unwrap_err().to_string().contains("at least 4 characters"));
    assert_eq!(m.resolve("9999").unwrap_err().to_string(), "no revision `9999`");
    assert!(m.upgrade_plan(&[], "abcd1234@sideways").unwrap_err().to_string().starts_with("invalid target"));
    assert!(validate_rev_id("abc_123").is_ok());
    for bad in ["", "a:b", "a-b", "x@y", &"x".repeat(33)] {
        assert!(validate_rev_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn history_ranges_list_children_first() {
    let m = chain();
    let ids = |revs: Vec<&Revision>| revs.into_iter().map(|r| r.file.revision.clone()).collect::<Vec<_>>();
    assert_eq!(ids(m.history(None).unwrap()), ["a3aa", "a2aa", "a1aa"]);
    assert_eq!(ids(m.history(Some("a2aa:")).unwrap()), ["a3aa", "a2aa"]);
    assert_eq!(ids(m.history(Some(":a2aa")).unwrap()), ["a2aa", "a1aa"]);
    assert_eq!(ids(m.history(Some("a1aa:a2aa")).unwrap()), ["a2aa", "a1aa"]);
    assert_eq!(parse_range("a:b"), (Some("a"), "b"));
    assert_eq!(parse_range("b"), (None, "b"));
}

#[test]
fn files_round_trip_and_errors_name_the_line() {
    let mut table = Table::new("users");
    table.columns = vec![Column::new("id", ColumnType::Integer).not_null(), Column::new("bio", ColumnType::Text)];
    let file = RevisionFile {
        revision: "ae10".into(),
        down_revision: vec!["1975".into(), "27c6".into()],
        branch_labels: vec!["billing".into()],
        depends_on: vec!["ff00".into()],
        message: "add \"users\"\nand more".into(),
        created_at: Some("2026-11-25T10:00:00Z".into()),
        upgrade: vec![
            Op::CreateTable(table.clone()),
            Op::Execute(crate::ops::Execute {
                sql: Some("UPDATE users\nSET bio = 'x'".into()),
                dialects: Default::default(),
            }),
        ],
        downgrade: vec![Op::DropTable(table)],
    };
    let text = file.to_toml();
    assert_eq!(RevisionFile::parse(Path::new("x.toml"), &text).unwrap(), file, "{text}");
    assert!(
        text.contains("\n[[upgrade]]\nop = \"create_table\"\nname = \"users\"\ncolumns = [\n    { name = \"id\""),
        "{text}"
    );
    let base = RevisionFile { down_revision: Vec::new(), upgrade: Vec::new(), downgrade: Vec::new(), ..file };
    assert_eq!(RevisionFile::parse(Path::new("x.toml"), &base.to_toml()).unwrap(), base);
    let bad = "revision = \"a1\"\nmessage = \"m\"\n\n[[upgrade]]\nop = \"add_column\"\ntable = \"t\"\ncolum = 1\n";
    let e = RevisionFile::parse(Path::new("v/a1_m.toml"), bad).unwrap_err().to_string();
    assert!(e.starts_with("v/a1_m.toml:4: "), "{e}");
    assert_eq!(slug("Add users' e-mail!"), "add_users_e_mail");
    assert_eq!(new_revision_id().len(), 12);
}

#[test]
fn load_and_write_revision_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut previous: Option<String> = None;
    for i in 0..1000 {
        let mut file = rev(&format!("r{i:04}"), &[], &[], &[]).file;
        file.down_revision = previous.iter().cloned().collect();
        previous = Some(file.revision.clone());
        write_revision(dir.path(), &file).unwrap();
    }
    let script = Script::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(script.map.len(), 1000);
    assert_eq!(script.map.heads(), ["r0999"]);
    assert_eq!(script.map.upgrade_plan(&[], "head").unwrap().len(), 1000);
    let again = write_revision(dir.path(), &script.map.get("r0000").unwrap().file).unwrap_err().to_string();
    assert!(again.starts_with("cannot create "), "{again}");
    let missing = Script::load(&[dir.path().join("nope")]).unwrap_err().to_string();
    assert!(missing.starts_with("cannot read "), "{missing}");
}
