//! Derive macros for `migrate`.
//!
//! `#[derive(Model)]`, which turns an annotated struct into a table
//! description at compile time, lands here with the models feature; the
//! attribute grammar it will accept is documented in `docs/`.
