//! Every command of the CLI as a library function returning data; the CLI
//! only formats what these return.

mod inspect;

pub use inspect::{Inspection, inspect};
