//! The data chunk streaming now (its sparse map and payload, hashed as they pass) and the
//! captured prefix of its file.

use std::collections::VecDeque;

use super::format::{le_u32, Kind};

/// A file whose `E` chunk has not come yet.
pub(super) struct OpenFile {
    /// Where its next chunk must start.
    pub(super) next_offset: u64,
    /// Its bytes so far, if captured (moved into the chunk while one streams).
    pub(super) capture: Option<Vec<u8>>,
}

/// A `P`, `S` or ignorable chunk whose sparse map or payload is streaming.
pub(super) struct DataChunk {
    pub(super) kind: Kind,
    pub(super) path: String,
    pub(super) file_offset: u64,
    pub(super) payload_len: u64,
    pub(super) expected_crc: u32,
    pub(super) crc: crc32fast::Hasher,
    /// Sum of the sparse map's holes.
    pub(super) holes: u64,
    /// Sum of the sparse map's data lengths: must equal `payload_len`.
    pub(super) mapped: u64,
    pub(super) capture: Option<Capture>,
}

impl DataChunk {
    pub(super) fn sparse_entry(&mut self, entry: &[u8]) {
        self.crc.update(entry);
        let (hole, data) = (le_u32(entry, 0), le_u32(entry, 4));
        if let Some(capture) = &mut self.capture {
            // Positions may overflow in a corrupt stream: that is caught when
            // the chunk ends, so saturate here rather than panic.
            let at = self
                .file_offset
                .saturating_add(self.holes)
                .saturating_add(self.mapped)
                .saturating_add(u64::from(hole));
            // Entries that place nothing, or land past the limit, need no memory.
            if at < capture.limit as u64 && (hole, data) != (0, 0) {
                capture.plan.push_back((hole, data));
            }
        }
        self.holes += u64::from(hole);
        self.mapped += u64::from(data);
    }

    pub(super) fn payload(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        if let Some(capture) = &mut self.capture {
            if self.kind == Kind::Sparse {
                capture.sparse_payload(bytes);
            } else {
                capture.write(capture.pos, bytes);
                capture.pos = capture.pos.saturating_add(bytes.len() as u64);
            }
        }
    }
}

/// The captured prefix of a file, while one of its chunks streams.
pub(super) struct Capture {
    pub(super) bytes: Vec<u8>,
    pub(super) limit: usize,
    /// File position of the next payload byte.
    pub(super) pos: u64,
    /// For a sparse chunk: the (hole, data) entries still to apply that land
    /// below the limit.
    pub(super) plan: VecDeque<(u32, u32)>,
}

impl Capture {
    /// Puts `data` at file position `at`, within the limit.
    pub(super) fn write(&mut self, at: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        // Below the limit, so the cast is exact.
        let at = at.min(self.limit as u64) as usize;
        debug_assert!(self.bytes.len() <= at, "chunks of a file are contiguous");
        // A hole followed by data reads as zeros, as in the extracted file.
        self.bytes.resize(at, 0);
        let room = self.limit - at;
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }

    pub(super) fn sparse_payload(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            // No plan left: the rest lands past the limit.
            let Some((hole, len)) = self.plan.front_mut() else {
                return;
            };
            self.pos = self.pos.saturating_add(u64::from(std::mem::take(hole)));
            let n = data.len().min(*len as usize);
            // n ≤ *len, a u32.
            *len -= n as u32;
            let done = *len == 0;
            let (now, rest) = data.split_at(n);
            self.write(self.pos, now);
            self.pos = self.pos.saturating_add(n as u64);
            if done {
                self.plan.pop_front();
            }
            data = rest;
        }
    }
}
