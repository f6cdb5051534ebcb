//! json format parser.
