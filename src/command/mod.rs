//! Every command of the CLI as a library function returning data; the CLI
//! only formats what these return.

mod autogen;
mod inspect;
mod migrate;
mod revision;

pub use autogen::{Drift, autogenerate, check, check_shadow, lint_revisions, load_models};
pub use inspect::{Inspection, inspect};
use migrate::open_existing;
pub use migrate::{
    CurrentHead, PartialOp, RunOptions, Status, Uncertain, current, downgrade, load_script, offline, stamp, upgrade,
};
pub use revision::{NewRevision, RevisionInfo, Written, branches, edit_path, heads, history, merge, revision, show};
