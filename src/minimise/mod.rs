//! Minimisation: each stored field only as precise as its purpose needs. Field policies for
//! client addresses, user agents, URIs, referrers and times, grouped into purpose profiles.

pub mod agent;
pub mod geo;
pub mod uri;
