//! ferryman-exec (being written).
