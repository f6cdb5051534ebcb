//! UA stub.
#![allow(missing_docs, unused_variables)]
pub struct AgentGeneraliser;
impl AgentGeneraliser {
    pub fn new(capacity: usize) -> Self {
        AgentGeneraliser
    }
    pub fn generalise(&mut self, ua: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"unknown")
    }
}
