//! The redaction engine.

pub mod detect;
