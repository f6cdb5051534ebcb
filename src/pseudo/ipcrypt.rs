//! IPCrypt.
