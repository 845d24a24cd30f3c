//! `embed_migrations!`: the revision files of a script location compiled
//! into the program, each with the checksum the CLI records, checked here
//! as far as a file can be without migrate's op vocabulary (TOML syntax, the
//! header keys, every op a table naming its `op`). Migrate parses each op
//! when the program reads them (`Script::embedded`), with the same errors
//! naming file and line.

use migrate_grammar::revision_files::{FileKind, STRAY_MESSAGE, checksum, file_kind};
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use std::path::{Path, PathBuf};

/// The keys a revision file's header may have, as `RevisionFile` reads them.
const HEADER_KEYS: [&str; 8] =
    ["revision", "down_revision", "branch_labels", "depends_on", "message", "created_at", "upgrade", "downgrade"];

/// The macro's input: the script location (default `migrations`), relative
/// to the crate's `Cargo.toml`.
pub fn expand(input: Tokens) -> syn::Result<Tokens> {
    let location = if input.is_empty() {
        syn::LitStr::new("migrations", proc_macro2::Span::call_site())
    } else {
        syn::parse2::<syn::LitStr>(input)?
    };
    let fail = |message: String| syn::Error::new(location.span(), message);
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| fail("CARGO_MANIFEST_DIR is not set: embed_migrations! runs under cargo".into()))?;
    let shown = Path::new(&location.value()).join("versions");
    let dir = manifest.join(&shown);
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        fail(format!(
            "cannot read {} ({e}): embed_migrations! takes the script location (the folder holding versions/), \
             relative to {}",
            shown.display(),
            manifest.join("Cargo.toml").display()
        ))
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| fail(format!("cannot read {}: {e}", shown.display())))?.path();
        match file_kind(&path) {
            FileKind::Revision => paths.push(path),
            FileKind::Skipped => {}
            FileKind::Stray => return Err(fail(format!("{}: {STRAY_MESSAGE}", shown.join(name(&path)).display()))),
        }
    }
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let shown = shown.join(name(&path)).display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("cannot read {shown}: {e}")))?;
        check(&text).map_err(|(line, message)| {
            fail(format!("{shown}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default()))
        })?;
        let absolute = path.display().to_string();
        let sum = checksum(&text);
        files.push(quote! {
            ::migrate::script::EmbeddedFile { path: #shown, source: ::core::include_str!(#absolute), checksum: #sum }
        });
    }
    Ok(quote! {
        ::migrate::script::EmbeddedMigrations { files: &[#(#files),*] }
    })
}

fn name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// What can be checked of a revision file's text here; an error has the
/// line where known.
fn check(text: &str) -> Result<(), (Option<usize>, String)> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        (line, e.message().to_string())
    })?;
    if let Some(key) = table.keys().find(|k| !HEADER_KEYS.contains(&k.as_str())) {
        return Err((key_line(text, key), format!("unknown key `{key}` (expected one of {})", HEADER_KEYS.join(", "))));
    }
    match table.get("revision") {
        Some(toml::Value::String(_)) => {}
        Some(_) => return Err((key_line(text, "revision"), "`revision` must be a string".into())),
        None => return Err((Some(1), "missing key `revision`".into())),
    }
    for section in ["upgrade", "downgrade"] {
        let Some(ops) = table.get(section) else { continue };
        let Some(ops) = ops.as_array() else {
            return Err((key_line(text, section), format!("`{section}` must be a list of ops ([[{section}]] blocks)")));
        };
        for (n, op) in ops.iter().enumerate() {
            if !op.get("op").is_some_and(toml::Value::is_str) {
                let header = format!("[[{section}]]");
                let line = text.lines().enumerate().filter(|(_, l)| l.trim() == header).nth(n).map(|(i, _)| i + 1);
                return Err((line, format!("{section} op {} has no `op = \"...\"` naming what it does", n + 1)));
            }
        }
    }
    Ok(())
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of a top-level `key = ...`, where it can be found.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn malformed_files_name_the_line() {
        assert_eq!(check("revision = \"a\"\nmessage = \"x\"\n"), Ok(()));
        assert_eq!(check("revision = \"a\"\nmesage = \"x\"\n").unwrap_err().0, Some(2));
        assert_eq!(check("revision = \"a\"\nmessage = \n").unwrap_err().0, Some(2));
        assert_eq!(check("message = \"x\"\n").unwrap_err().1, "missing key `revision`");
        let no_op = "revision = \"a\"\n\n[[upgrade]]\nop = \"execute\"\n\n[[upgrade]]\ntable = \"t\"\n";
        assert_eq!(check(no_op).unwrap_err().0, Some(6));
    }
}
