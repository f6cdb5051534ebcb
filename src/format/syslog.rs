//! syslog format parser.
