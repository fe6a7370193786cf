//! A small CDR (XCDR1, as ROS 2's Fast-CDR writes it) reader and writer for the
//! handful of message types the bag tool touches.
//!
//! Hand-written instead of pulling a generic serde-CDR crate because the types
//! are few and fixed, and because a bag is untrusted input: every read is bounds
//! checked and a length prefix can never make us allocate more than the buffer
//! holds. Alignment is relative to the start of the payload (after the 4-byte
//! encapsulation header), which is what rmw implementations do.

use thiserror::Error;

/// Why a CDR payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CdrError {
    #[error("CDR payload truncated: needed {needed} bytes at offset {offset}, {len} available")]
    Truncated {
        offset: usize,
        needed: usize,
        len: usize,
    },
    #[error("unsupported CDR encapsulation {0:#06x} (expected CDR_LE 0x0001 or CDR_BE 0x0000)")]
    Encapsulation(u16),
    #[error("CDR string is not NUL-terminated UTF-8")]
    BadString,
}

/// Encapsulation header for little-endian plain CDR.
const CDR_LE: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

/// Bounds-checked CDR decoder over one serialized message.
pub struct CdrReader<'a> {
    payload: &'a [u8],
    pos: usize,
    little: bool,
}

impl<'a> CdrReader<'a> {
    /// Parse the encapsulation header and position at the first field.
    pub fn new(data: &'a [u8]) -> Result<Self, CdrError> {
        if data.len() < 4 {
            return Err(CdrError::Truncated {
                offset: 0,
                needed: 4,
                len: data.len(),
            });
        }
        let kind = u16::from_be_bytes([data[0], data[1]]);
        let little = match kind {
            0x0001 => true,
            0x0000 => false,
            other => return Err(CdrError::Encapsulation(other)),
        };
        Ok(Self {
            payload: &data[4..],
            pos: 0,
            little,
        })
    }

    fn align(&mut self, n: usize) {
        let rem = self.pos % n;
        if rem != 0 {
            self.pos += n - rem;
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.payload.len());
        match end {
            Some(end) => {
                let s = &self.payload[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(CdrError::Truncated {
                offset: self.pos,
                needed: n,
                len: self.payload.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CdrError> {
        self.align(N);
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, CdrError> {
        Ok(self.take(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool, CdrError> {
        Ok(self.u8()? != 0)
    }

    pub fn u32(&mut self) -> Result<u32, CdrError> {
        let a = self.array::<4>()?;
        Ok(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    pub fn i32(&mut self) -> Result<i32, CdrError> {
        Ok(self.u32()? as i32)
    }

    pub fn f32(&mut self) -> Result<f32, CdrError> {
        Ok(f32::from_bits(self.u32()?))
    }

    pub fn u64(&mut self) -> Result<u64, CdrError> {
        let a = self.array::<8>()?;
        Ok(if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }

    /// A string: u32 length including the NUL terminator, bytes, NUL.
    pub fn string(&mut self) -> Result<String, CdrError> {
        let n = self.u32()? as usize;
        if n == 0 {
            // Some writers encode "" as length 0 without a terminator.
            return Ok(String::new());
        }
        let s = self.take(n)?;
        let (last, body) = s.split_last().ok_or(CdrError::BadString)?;
        if *last != 0 {
            return Err(CdrError::BadString);
        }
        std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|_| CdrError::BadString)
    }

    /// A `uint8[]` sequence, borrowed from the payload (no copy of image data).
    pub fn bytes(&mut self) -> Result<&'a [u8], CdrError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// CDR encoder (little endian) into a reusable buffer.
pub struct CdrWriter {
    buf: Vec<u8>,
}

impl Default for CdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CdrWriter {
    pub fn new() -> Self {
        Self::with_buffer(Vec::new())
    }

    /// Start a message in `buf` (cleared), reusing its allocation.
    pub fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(&CDR_LE);
        Self { buf }
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn align(&mut self, n: usize) {
        let pos = self.buf.len() - CDR_LE.len();
        let rem = pos % n;
        if rem != 0 {
            self.buf.resize(self.buf.len() + n - rem, 0);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.u32(v as u32);
    }

    pub fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }

    pub fn u64(&mut self, v: u64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }

    pub fn string(&mut self, s: &str) {
        self.u32(s.len() as u32 + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.buf.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_alignment() {
        let mut w = CdrWriter::new();
        w.u8(7);
        w.u64(1 << 40);
        w.string("hi");
        w.bool(true);
        w.f32(1.5);
        w.bytes(&[1, 2, 3]);
        let buf = w.finish();
        // u8 at 0, u64 aligned to 8, string length at 16.
        assert_eq!(&buf[4 + 8..4 + 16], &(1u64 << 40).to_le_bytes());
        let mut r = CdrReader::new(&buf).unwrap();
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u64().unwrap(), 1 << 40);
        assert_eq!(r.string().unwrap(), "hi");
        assert!(r.bool().unwrap());
        assert_eq!(r.f32().unwrap(), 1.5);
        assert_eq!(r.bytes().unwrap(), &[1, 2, 3]);
    }

    #[test]
    fn truncated_and_oversized_lengths_are_errors() {
        let mut w = CdrWriter::new();
        w.bytes(&[9; 16]);
        let buf = w.finish();
        let mut r = CdrReader::new(&buf[..buf.len() - 1]).unwrap();
        assert!(matches!(r.bytes(), Err(CdrError::Truncated { .. })));
        // A length prefix of 4 GiB must fail, not allocate.
        let evil = [0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff];
        let mut r = CdrReader::new(&evil).unwrap();
        assert!(r.bytes().is_err());
        assert!(CdrReader::new(&[0, 1]).is_err());
        assert!(matches!(
            CdrReader::new(&[0, 7, 0, 0]),
            Err(CdrError::Encapsulation(7))
        ));
    }

    #[test]
    fn big_endian_payloads_decode() {
        let buf = [0u8, 0, 0, 0, 0, 0, 1, 2];
        let mut r = CdrReader::new(&buf).unwrap();
        assert_eq!(r.u32().unwrap(), 0x0102);
    }
}
