//! Checksums of revision files, so that an applied revision whose file was
//! edited afterwards is noticed. The function lives in `migrate-grammar`
//! so that `embed_migrations!` computes the very same one at compile time.

pub use migrate_grammar::revision_files::checksum;
