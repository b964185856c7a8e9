//! ferryman-sandbox (being written).
