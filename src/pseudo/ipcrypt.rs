//! ipcrypt stub.
#![allow(missing_docs, unused_variables)]
use std::net::IpAddr;
pub struct IpCryptDeterministic;
impl IpCryptDeterministic {
    pub fn new(key: &[u8; 16]) -> Self {
        IpCryptDeterministic
    }
    pub fn encrypt(&self, ip: IpAddr) -> IpAddr {
        ip
    }
}
pub struct IpCryptPfx;
#[derive(Debug)]
pub struct IpCryptError;
impl IpCryptPfx {
    pub fn new(key: &[u8; 32]) -> Result<Self, IpCryptError> {
        Ok(IpCryptPfx)
    }
    pub fn encrypt(&self, ip: IpAddr) -> IpAddr {
        ip
    }
}
