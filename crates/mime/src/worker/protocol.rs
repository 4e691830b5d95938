//! The bytes between the parent and an extraction worker process.
//!
//! One request, one response, in order, over the child's stdin and stdout.
//! Every length is checked against a cap before anything is allocated for
//! it: the parent must not trust a worker that a hostile document may have
//! driven into writing garbage, and the worker must not trust its pipe.
//!
//! ```text
//! request:  kind u8 | allowance u64 | len u64 | document bytes
//! response: status u8 | len u64 | payload
//!   status 0 (text):   expanded u64 | truncated u8 | reason_len u32 | reason | text
//!   status 1 (failed): reason (UTF-8)
//! ```
//! Integers are little-endian.

use std::io::{self, Read, Write};

/// Which extractor a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pdf = 1,
    Spreadsheet = 2,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Pdf),
            2 => Some(Kind::Spreadsheet),
            _ => None,
        }
    }
}

/// What an extractor made of one document, in the worker or in process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Extracted {
    pub text: String,
    /// Bytes the document expanded to, charged to the message's budget.
    pub expanded: u64,
    /// The allowance ran out before the whole document was read.
    pub truncated: bool,
    /// Text was read, but some of the document could not be (for example
    /// PDF pages without a text layer): the part is also unscannable.
    pub unscannable: Option<String>,
}

pub(crate) const REQUEST_HEADER: usize = 17;

pub(crate) fn encode_request(kind: Kind, allowance: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(REQUEST_HEADER);
    out.push(kind as u8);
    out.extend_from_slice(&allowance.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out
}

/// Reads one request; `Ok(None)` at a clean end of input (the parent
/// closed the pipe: the worker's job is over).
pub(crate) fn read_request(
    input: &mut impl Read,
    max_len: u64,
) -> io::Result<Option<(Kind, u64, Vec<u8>)>> {
    let mut header = [0u8; REQUEST_HEADER];
    match input.read_exact(&mut header[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    input.read_exact(&mut header[1..])?;
    let kind = Kind::from_byte(header[0])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown request kind"))?;
    let allowance = u64::from_le_bytes(header[1..9].try_into().expect("8 bytes"));
    let len = u64::from_le_bytes(header[9..17].try_into().expect("8 bytes"));
    if len > max_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request longer than the cap",
        ));
    }
    let mut data = Vec::new();
    input.take(len).read_to_end(&mut data)?;
    if data.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some((kind, allowance, data)))
}

pub(crate) fn write_response(
    output: &mut impl Write,
    result: &Result<Extracted, String>,
) -> io::Result<()> {
    let mut body = Vec::new();
    let status = match result {
        Ok(e) => {
            let reason = e.unscannable.as_deref().unwrap_or("");
            body.reserve(8 + 1 + 4 + reason.len() + e.text.len());
            body.extend_from_slice(&e.expanded.to_le_bytes());
            body.push(u8::from(e.truncated));
            body.extend_from_slice(&(reason.len() as u32).to_le_bytes());
            body.extend_from_slice(reason.as_bytes());
            0u8
        }
        Err(reason) => {
            body.extend_from_slice(reason.as_bytes());
            1u8
        }
    };
    let text = match result {
        Ok(e) => e.text.as_bytes(),
        Err(_) => &[],
    };
    let mut header = [0u8; 9];
    header[0] = status;
    header[1..].copy_from_slice(&((body.len() + text.len()) as u64).to_le_bytes());
    output.write_all(&header)?;
    output.write_all(&body)?;
    output.write_all(text)?;
    output.flush()
}

/// The length a response header announces, or why it is refused.
pub(crate) fn response_len(header: &[u8; 9], max_len: u64) -> Result<u64, String> {
    let len = u64::from_le_bytes(header[1..9].try_into().expect("8 bytes"));
    if header[0] > 1 {
        return Err("extractor answered garbage".into());
    }
    if len > max_len {
        return Err(format!(
            "extractor output too large ({len} bytes, at most {max_len})"
        ));
    }
    Ok(len)
}

/// Decodes a response body whose header was accepted by [`response_len`].
pub(crate) fn decode_response(status: u8, body: Vec<u8>) -> Result<Extracted, String> {
    let garbage = || "extractor answered garbage".to_owned();
    if status == 1 {
        return Err(String::from_utf8_lossy(&body).into_owned());
    }
    if body.len() < 13 {
        return Err(garbage());
    }
    let expanded = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
    let truncated = body[8] != 0;
    let reason_len = u32::from_le_bytes(body[9..13].try_into().expect("4 bytes")) as usize;
    let rest = &body[13..];
    if reason_len > rest.len() {
        return Err(garbage());
    }
    let reason = String::from_utf8_lossy(&rest[..reason_len]).into_owned();
    let mut text = body;
    text.drain(..13 + reason_len);
    let text = String::from_utf8(text).map_err(|_| garbage())?;
    Ok(Extracted {
        text,
        expanded,
        truncated,
        unscannable: (!reason.is_empty()).then_some(reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(result: Result<Extracted, String>) -> Result<Extracted, String> {
        let mut wire = Vec::new();
        write_response(&mut wire, &result).unwrap();
        let header: [u8; 9] = wire[..9].try_into().unwrap();
        let len = response_len(&header, 1 << 20).unwrap();
        assert_eq!(len as usize, wire.len() - 9);
        decode_response(header[0], wire[9..].to_vec())
    }

    #[test]
    fn responses_survive_the_wire() {
        let ok = Extracted {
            text: "Kundennummer 4711 ünd mehr".into(),
            expanded: 99,
            truncated: true,
            unscannable: Some("no text layer (pages 2)".into()),
        };
        assert_eq!(round_trip(Ok(ok.clone())), Ok(ok));
        let plain = Extracted {
            text: "x".into(),
            ..Extracted::default()
        };
        assert_eq!(round_trip(Ok(plain.clone())), Ok(plain));
        assert_eq!(round_trip(Err("bad xref".into())), Err("bad xref".into()));
    }

    #[test]
    fn lengths_are_capped_before_allocation() {
        let mut header = [0u8; 9];
        header[1..].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(response_len(&header, 1 << 20)
            .unwrap_err()
            .contains("too large"));
        header[0] = 7;
        assert!(response_len(&header, u64::MAX).is_err());
        assert_eq!(
            decode_response(0, vec![1, 2, 3]),
            Err("extractor answered garbage".into())
        );

        let mut request = encode_request(Kind::Pdf, 5, &[0; 100]);
        request.extend_from_slice(&[0; 100]);
        assert!(read_request(&mut &request[..], 99).is_err());
        let (kind, allowance, data) = read_request(&mut &request[..], 100).unwrap().unwrap();
        assert_eq!((kind, allowance, data.len()), (Kind::Pdf, 5, 100));
        assert!(read_request(&mut &b""[..], 100).unwrap().is_none());
        assert!(read_request(&mut &request[..50], 100).is_err());
    }
}
