//! Inputs (placeholder).
