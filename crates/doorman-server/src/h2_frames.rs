//! Where an HTTP/2 connection's inbound bytes stand with respect to frame boundaries, so that the
//! connection wrapper ([`crate::head_timeout`]) can close a connection whose client started a
//! frame or a header block and went silent. An open header block (HEADERS or PUSH_PROMISE
//! without END_HEADERS, until the CONTINUATION that carries it) blocks every other frame of the
//! connection (RFC 9113 §6.10), so such a client holds a whole connection, not one stream, and
//! resetting a stream cannot help: only closing the connection does.
//!
//! The tracker reads nothing but the 9-byte frame headers and skips payloads by length: a read
//! costs a few comparisons per frame it contains, and a copy of at most 9 bytes when a frame
//! header is split between reads. It does not validate frames; hyper's HTTP/2 stack does that.

/// `DATA`: the one frame type whose payload may legitimately trickle in (an upload over a slow
/// link), so a partial DATA frame is judged by its progress rather than by its age.
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const FRAME_HEADER_LEN: usize = 9;

/// What, if anything, the bytes read so far leave unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incomplete {
    /// The bytes end on a frame boundary outside any header block.
    Nothing,
    /// A DATA frame's payload has only partly arrived.
    Data,
    /// A header block is open, or a frame other than DATA (or a frame header) has only partly
    /// arrived: the connection cannot make progress until the rest comes.
    Blocking,
}

/// See the [module documentation](self).
#[derive(Debug, Default)]
pub(crate) struct FrameTracker {
    header: [u8; FRAME_HEADER_LEN],
    /// Bytes of the current frame header seen; `FRAME_HEADER_LEN` once the payload is being read.
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: u32,
    frame_type: u8,
    in_header_block: bool,
}

impl FrameTracker {
    /// Accounts for `bytes`, the next bytes read from the client (after the connection preface).
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.header_len < FRAME_HEADER_LEN {
                let n = (FRAME_HEADER_LEN - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len == FRAME_HEADER_LEN {
                    self.start_frame();
                }
            } else {
                let n = bytes.len().min(self.payload_left as usize);
                // `n` fits: it is at most `payload_left`.
                self.payload_left -= n as u32;
                bytes = &bytes[n..];
                if self.payload_left == 0 {
                    self.header_len = 0;
                }
            }
        }
    }

    fn start_frame(&mut self) {
        let h = &self.header;
        self.payload_left = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        self.frame_type = h[3];
        let end_headers = h[4] & END_HEADERS != 0;
        match self.frame_type {
            HEADERS | PUSH_PROMISE => self.in_header_block = !end_headers,
            CONTINUATION if end_headers => self.in_header_block = false,
            _ => {}
        }
        if self.payload_left == 0 {
            self.header_len = 0;
        }
    }

    /// What the bytes fed so far leave unfinished.
    pub(crate) fn incomplete(&self) -> Incomplete {
        let mid_frame = self.header_len > 0;
        if self.in_header_block
            || (mid_frame && (self.header_len < FRAME_HEADER_LEN || self.frame_type != DATA))
        {
            Incomplete::Blocking
        } else if mid_frame {
            Incomplete::Data
        } else {
            Incomplete::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.push(kind);
        f.push(flags);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn fed(bytes: &[u8]) -> FrameTracker {
        let mut t = FrameTracker::default();
        t.feed(bytes);
        t
    }

    #[test]
    fn whole_frames_leave_nothing_incomplete() {
        let mut bytes = frame(0x4, 0, 0, &[0; 6]); // SETTINGS
        bytes.extend(frame(0x6, 0, 0, &[1; 8])); // PING
        bytes.extend(frame(HEADERS, END_HEADERS | 0x1, 1, b"hpack"));
        bytes.extend(frame(0x4, 0x1, 0, &[])); // SETTINGS ack: no payload
        assert_eq!(fed(&bytes).incomplete(), Incomplete::Nothing);
    }

    #[test]
    fn any_split_is_tracked_across_reads() {
        let mut bytes = frame(HEADERS, 0, 1, b"first");
        bytes.extend(frame(CONTINUATION, END_HEADERS, 1, b"second"));
        bytes.extend(frame(DATA, 0x1, 1, b"body"));
        for split in 0..=bytes.len() {
            let mut t = FrameTracker::default();
            t.feed(&bytes[..split]);
            // HEADERS ends at 14, CONTINUATION (END_HEADERS) at 29, DATA's frame header at 38.
            let expected = if [0, 29, bytes.len()].contains(&split) {
                Incomplete::Nothing
            } else if split >= 38 {
                Incomplete::Data
            } else {
                Incomplete::Blocking
            };
            assert_eq!(t.incomplete(), expected, "after {split} bytes");
            t.feed(&bytes[split..]);
            assert_eq!(t.incomplete(), Incomplete::Nothing, "split at {split}");
        }
    }

    #[test]
    fn headers_without_end_headers_block_until_the_last_continuation() {
        let mut t = fed(&frame(HEADERS, 0x1, 1, b"a"));
        assert_eq!(t.incomplete(), Incomplete::Blocking);
        t.feed(&frame(CONTINUATION, 0, 1, b"b"));
        assert_eq!(t.incomplete(), Incomplete::Blocking);
        t.feed(&frame(CONTINUATION, END_HEADERS, 1, b"c"));
        assert_eq!(t.incomplete(), Incomplete::Nothing);

        let t = fed(&frame(PUSH_PROMISE, 0, 1, b"p"));
        assert_eq!(t.incomplete(), Incomplete::Blocking);
    }

    #[test]
    fn a_partial_frame_header_or_small_frame_blocks_and_a_partial_data_frame_trickles() {
        assert_eq!(fed(&[0, 0, 8]).incomplete(), Incomplete::Blocking);
        let ping = frame(0x6, 0, 0, &[1; 8]);
        assert_eq!(fed(&ping[..12]).incomplete(), Incomplete::Blocking);
        let data = frame(DATA, 0, 1, &[7; 100]);
        assert_eq!(fed(&data[..50]).incomplete(), Incomplete::Data);
    }

    #[test]
    fn a_frame_of_the_largest_length_is_skipped_by_length() {
        let mut t = fed(&[0xff, 0xff, 0xff, DATA, 0, 0, 0, 0, 1]);
        t.feed(&vec![0; 0xff_ffff - 1]);
        assert_eq!(t.incomplete(), Incomplete::Data);
        t.feed(&[0]);
        assert_eq!(t.incomplete(), Incomplete::Nothing);
    }
}
