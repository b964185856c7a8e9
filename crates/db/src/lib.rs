//! ferryman-db (being written).
