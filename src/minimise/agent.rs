//! User-agent generalisation.
