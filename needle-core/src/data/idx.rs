//! The IDX format of MNIST (raw or gzip-compressed), parsed defensively.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, then
//! one big-endian u32 per dimension, then the data. Nothing is allocated from the header's
//! claims: the payload length is checked against the bytes actually present first.

use std::io::Read;
use std::path::Path;

use super::DataError;

/// Largest decompressed size accepted (the MNIST training images are 47 MB); protects against
/// compressed "bombs".
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// A decoded IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file, decompressing it when it starts with the gzip magic bytes.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(raw.as_slice()).take(MAX_DECOMPRESSED + 1);
        decoder
            .read_to_end(&mut out)
            .map_err(|e| DataError::Format {
                path: path.to_path_buf(),
                problem: format!(
                    "corrupt gzip data after {} decompressed bytes: {e}",
                    out.len()
                ),
            })?;
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                problem: format!("decompresses to more than {MAX_DECOMPRESSED} bytes"),
            });
        }
        out
    } else {
        raw
    };
    parse_idx(&bytes, path)
}

/// Parses IDX bytes; `path` is only used to name the file in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let fail = |problem: String| DataError::Format {
        path: path.to_path_buf(),
        problem,
    };
    if bytes.len() < 4 {
        return Err(fail(format!(
            "file is {} bytes, shorter than the 4-byte IDX magic number",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail(format!(
            "bad magic number {:02x}{:02x}{:02x}{:02x} at offset 0 (an IDX file starts with two zero bytes)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(fail(format!(
            "element type 0x{:02x} at offset 2 is not supported (expected 0x08, unsigned byte)",
            bytes[2]
        )));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(fail("header declares 0 dimensions at offset 3".into()));
    }
    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(fail(format!(
            "truncated header: {ndim} dimensions need {header_len} bytes, file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let payload = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let available = bytes.len() - header_len;
    match payload {
        Some(n) if n == available => Ok(IdxArray {
            dims,
            data: bytes[header_len..].to_vec(),
        }),
        Some(n) if n > available => Err(fail(format!(
            "truncated: header dimensions {dims:?} need {n} data bytes after offset {header_len}, file has {available}"
        ))),
        Some(n) => Err(fail(format!(
            "{} unexpected trailing bytes after the {n} data bytes of dimensions {dims:?}",
            available - n
        ))),
        None => Err(fail(format!("header dimensions {dims:?} overflow the address space"))),
    }
}
