//! ferryman-jobs (being written).
