//! Writes (placeholder).
