//! `embed_migrations!` recompiles when a revision file is edited (it
//! includes each file); this line makes cargo recompile when a file is added
//! to or removed from the folder too.

fn main() {
    println!("cargo::rerun-if-changed=../blog/migrations");
}
