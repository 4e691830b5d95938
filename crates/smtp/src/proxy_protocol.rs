//! The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in
//! front says who the client is before the SMTP session starts (SPEC §6).
//!
//! The header is read exactly — never a byte of what follows it — from a
//! peer the handler expects it from, before the greeting; the `ppp` crate
//! parses it. A v2 `LOCAL` header (a health check) or a v1 `UNKNOWN` one
//! means the peer itself is the client.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How long a peer may take to send its header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The v2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, CRLF included.
const V1_MAX: usize = 107;
/// The longest v2 address block and TLVs accepted (HAProxy's with SSL
/// details stay well under it).
const V2_MAX_PAYLOAD: usize = 2048;

/// Why a PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    /// The peer sent nothing usable in time.
    #[error("no PROXY header within {0:?}")]
    Timeout(Duration),
    /// The connection failed or closed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a PROXY header.
    #[error("not a valid PROXY header: {0}")]
    Invalid(String),
}

/// Reads the header: `Some(client)` for a proxied connection, `None` when
/// the peer itself is the client.
pub async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    tokio::time::timeout(timeout, read(stream))
        .await
        .map_err(|_| ProxyHeaderError::Timeout(timeout))?
}

async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    // Both versions' shortest headers are at least this long
    // ("PROXY UNKNOWN\r\n").
    let mut buf = vec![0u8; 15];
    stream.read_exact(&mut buf).await?;
    if buf.starts_with(V2_SIGNATURE) {
        let mut rest = [0u8; 1];
        stream.read_exact(&mut rest).await?;
        buf.push(rest[0]);
        let length = u16::from_be_bytes([buf[14], buf[15]]) as usize;
        if length > V2_MAX_PAYLOAD {
            return Err(ProxyHeaderError::Invalid(format!(
                "v2 payload of {length} bytes"
            )));
        }
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await?;
        buf.extend_from_slice(&payload);
        let header = ppp::v2::Header::try_from(buf.as_slice())
            .map_err(|e| ProxyHeaderError::Invalid(e.to_string()))?;
        if header.command == ppp::v2::Command::Local {
            return Ok(None);
        }
        return Ok(match header.addresses {
            ppp::v2::Addresses::IPv4(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v2::Addresses::IPv6(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v2::Addresses::Unspecified | ppp::v2::Addresses::Unix(_) => None,
        });
    }
    if !buf.starts_with(b"PROXY ") {
        return Err(ProxyHeaderError::Invalid(
            "neither a v1 nor a v2 header".into(),
        ));
    }
    // v1: one line; read a byte at a time so nothing after it is taken.
    while !buf.ends_with(b"\r\n") {
        if buf.len() >= V1_MAX {
            return Err(ProxyHeaderError::Invalid("v1 line too long".into()));
        }
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        buf.push(byte[0]);
    }
    let text = std::str::from_utf8(&buf).map_err(|e| ProxyHeaderError::Invalid(e.to_string()))?;
    let header =
        ppp::v1::Header::try_from(text).map_err(|e| ProxyHeaderError::Invalid(e.to_string()))?;
    Ok(match header.addresses {
        ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Unknown => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Option<SocketAddr>, ProxyHeaderError> {
        let mut input = bytes;
        let result = read_header(&mut input, Duration::from_secs(1)).await;
        // Nothing after the header is consumed.
        if result.is_ok() {
            assert_eq!(
                input,
                b"EHLO x\r\n",
                "left: {:?}",
                String::from_utf8_lossy(input)
            );
        }
        result
    }

    #[tokio::test]
    async fn v1_and_v2_headers_name_the_client() {
        let v1 = b"PROXY TCP4 203.0.113.5 192.0.2.1 40000 25\r\nEHLO x\r\n";
        assert_eq!(
            parse(v1).await.unwrap(),
            Some("203.0.113.5:40000".parse().unwrap())
        );
        let v1 = b"PROXY TCP6 2001:db8::5 2001:db8::1 40000 25\r\nEHLO x\r\n";
        assert_eq!(
            parse(v1).await.unwrap(),
            Some("[2001:db8::5]:40000".parse().unwrap())
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\nEHLO x\r\n").await.unwrap(), None);

        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend([
            0x21, 0x11, 0, 12, 203, 0, 113, 5, 192, 0, 2, 1, 0x9c, 0x40, 0, 25,
        ]);
        v2.extend_from_slice(b"EHLO x\r\n");
        assert_eq!(
            parse(&v2).await.unwrap(),
            Some("203.0.113.5:40000".parse().unwrap())
        );
        let mut local = V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        local.extend_from_slice(b"EHLO x\r\n");
        assert_eq!(parse(&local).await.unwrap(), None);
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        assert!(parse(b"EHLO client.example\r\n").await.is_err());
        assert!(
            parse(b"PROXY TCP4 not-an-address 1.2.3.4 1 2\r\nEHLO x\r\n")
                .await
                .is_err()
        );
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(200));
        assert!(parse(long.as_bytes()).await.is_err());
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend([0x21, 0x11, 0xff, 0xff]);
        assert!(parse(&huge).await.is_err());
        // A peer that sends half a header and waits is cut off.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"PROXY TCP4 ")
            .await
            .unwrap();
        let r = read_header(&mut server, Duration::from_millis(50)).await;
        assert!(matches!(r, Err(ProxyHeaderError::Timeout(_))), "{r:?}");
    }
}
