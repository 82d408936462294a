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
    if raw.starts_with(&[0x1f, 0x8b]) {
        parse_idx(&decompress(&raw, path)?, path)
    } else {
        parse_idx(&raw, path)
    }
}

/// Decompresses gzip data holding an IDX file, reading no more than the size its header
/// describes (plus one byte, to detect trailing data) and never more than
/// [`MAX_DECOMPRESSED`], so that a small file cannot make the reader allocate gigabytes.
fn decompress(raw: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let fail = |problem: String| DataError::Format {
        path: path.to_path_buf(),
        problem,
    };
    let mut decoder = flate2::read::GzDecoder::new(raw);
    let mut out = Vec::new();
    let mut read_to = |out: &mut Vec<u8>, len: u64| {
        let want = len.saturating_sub(out.len() as u64);
        (&mut decoder).take(want).read_to_end(out).map_err(|e| {
            fail(format!(
                "corrupt gzip data after {} decompressed bytes: {e}",
                out.len()
            ))
        })
    };
    read_to(&mut out, 4)?;
    if let Some(&ndim) = out.get(3) {
        read_to(&mut out, 4 + 4 * ndim as u64)?;
    }
    // A header that is cut short or invalid fails whatever follows: parse_idx says why.
    let Some(claimed) = claimed_len(&out) else {
        return Ok(out);
    };
    read_to(&mut out, claimed.min(MAX_DECOMPRESSED) + 1)?;
    if out.len() as u64 > claimed {
        Err(fail(format!(
            "the decompressed data goes on past the {claimed} bytes (header and data) that \
             the header's dimensions describe"
        )))
    } else if out.len() as u64 > MAX_DECOMPRESSED {
        Err(fail(format!(
            "decompresses to more than {MAX_DECOMPRESSED} bytes"
        )))
    } else {
        Ok(out)
    }
}

/// The length of the whole IDX file (header and data) that a complete and valid `header`
/// describes; `None` when the header is cut short or invalid, or the size overflows.
fn claimed_len(header: &[u8]) -> Option<u64> {
    let (&[0, 0, 0x08, ndim], rest) = header.split_first_chunk::<4>()? else {
        return None;
    };
    let ndim = ndim as usize;
    if ndim == 0 {
        return None;
    }
    let data = rest
        .get(..4 * ndim)?
        .chunks_exact(4)
        .map(|d| u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]])))
        .try_fold(1u64, u64::checked_mul)?;
    data.checked_add(4 + 4 * ndim as u64)
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        b.extend(dims.iter().flat_map(|d| d.to_be_bytes()));
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn decompression_stops_past_the_size_the_header_describes() {
        // A 72 KiB file holding one item and then 16 MiB of zeros was decompressed whole (up
        // to the 1 GiB limit: a 1 MiB file could make the reader allocate 1-2 GiB) before the
        // trailing bytes were reported.
        let dir = std::env::temp_dir().join(format!("needle-idx-bomb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bomb.gz");
        let mut bomb = idx(&[1], &[7]);
        bomb.resize(bomb.len() + (16 << 20), 0);
        std::fs::write(&path, gzip(&bomb)).unwrap();
        let err = read_idx(&path).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: the decompressed data goes on past the 9 bytes (header and data) that the \
                 header's dimensions describe",
                path.display()
            )
        );
    }

    #[test]
    fn decompression_reads_whole_files_and_leaves_bad_headers_to_the_parser() {
        let path = Path::new("x.gz");
        let valid = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(decompress(&gzip(&valid), path).unwrap(), valid);
        // Headers that are cut short or invalid come back as they are (the data after them
        // unread) for parse_idx to judge.
        assert_eq!(decompress(&gzip(&valid[..6]), path).unwrap(), &valid[..6]);
        let mut bad_type = valid.clone();
        bad_type[2] = 9;
        assert_eq!(decompress(&gzip(&bad_type), path).unwrap(), &bad_type[..12]);
        // A size past 1 GiB reads up to the limit (parse_idx reports the truncation), one
        // past u64 not at all.
        let huge = idx(&[u32::MAX; 2], &[1, 2, 3]);
        assert_eq!(decompress(&gzip(&huge), path).unwrap(), huge);
        let overflowing = idx(&[u32::MAX; 3], &[1, 2, 3]);
        assert_eq!(
            decompress(&gzip(&overflowing), path).unwrap(),
            &overflowing[..16]
        );
    }
}
