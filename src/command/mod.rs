//! Every command of the CLI as a library function returning data; the CLI
//! only formats what these return.

mod inspect;
mod migrate;
mod revision;

pub use inspect::{Inspection, inspect};
pub use migrate::{CurrentHead, RunOptions, Status, current, downgrade, load_script, offline, stamp, upgrade};
pub use revision::{NewRevision, RevisionInfo, Written, branches, edit_path, heads, history, merge, revision, show};
