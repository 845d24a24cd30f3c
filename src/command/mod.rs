//! Every command of the CLI as a library function returning data; the CLI
//! only formats what these return.

mod autogen;
mod inspect;
mod migrate;
mod revision;

pub use autogen::{Drift, autogenerate, check, check_models, check_shadow, lint_revisions, load_models};
pub use inspect::{Inspection, ModelFormat, PulledModels, inspect, pull_models};
pub use migrate::{
    CurrentHead, Endpoint, PartialOp, RunOptions, Status, Uncertain, apply, current, downgrade, load_script, offline,
    stamp, status, upgrade,
};
use migrate::{connect, open_existing};
pub use revision::{NewRevision, RevisionInfo, Written, branches, edit_path, heads, history, merge, revision, show};
