//! combined format parser.
