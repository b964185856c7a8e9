//! ferryman-config (being written).
