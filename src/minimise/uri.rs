//! URI minimisation (stub until the module lands).
#![allow(missing_docs, unused_variables)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPolicy {
    Keep,
    Scan,
    Template,
    Drop,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryPolicy {
    Keep,
    Scan,
    Allowlist,
    Drop,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrerPolicy {
    Keep,
    Scan,
    Origin,
    Drop,
}
#[derive(Debug, Clone)]
pub struct UriPolicy {
    pub path: PathPolicy,
    pub query: QueryPolicy,
    pub allow: Vec<String>,
    pub referrer: ReferrerPolicy,
    pub own_hosts: Vec<String>,
}
pub fn minimise_target(
    policy: &UriPolicy,
    target: &[u8],
    out: &mut Vec<u8>,
    scan: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) {
    scan(target, out)
}
pub fn minimise_referrer(
    policy: &UriPolicy,
    referrer: &[u8],
    out: &mut Vec<u8>,
    scan: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) {
    scan(referrer, out)
}
