//! A milter conversation as Postfix holds it, over TCP, against a handler
//! that records what it saw.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_milter::{serve_milter, Message, MilterAddress, MilterConfig, MilterHandler, Verdict};
use sluice_smtp::inflight::InflightBudget;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Recorder {
    seen: Mutex<Vec<Message>>,
    verdict: Verdict,
}

impl MilterHandler for Recorder {
    fn admits(&self, peer: IpAddr) -> bool {
        peer.is_loopback()
    }

    async fn end_of_message(&self, message: Message) -> Verdict {
        self.seen.lock().unwrap().push(message);
        self.verdict.clone()
    }
}

fn packet(code: u8, data: &[u8]) -> Vec<u8> {
    let mut p = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    p.push(code);
    p.extend_from_slice(data);
    p
}

async fn read_packet(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut data = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut data).await.unwrap();
    let rest = data.split_off(1);
    (data[0], rest)
}

async fn start(verdict: Verdict, max: usize) -> (Arc<Recorder>, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let handler = Arc::new(Recorder {
        seen: Mutex::new(Vec::new()),
        verdict,
    });
    let config = MilterConfig {
        max_message_size: max,
        timeout: Duration::from_secs(5),
        inflight: InflightBudget::new(1 << 30),
    };
    let address = MilterAddress::Tcp(format!("127.0.0.1:{port}").parse().unwrap());
    let h = handler.clone();
    tokio::spawn(async move {
        serve_milter(&address, config, h, std::future::pending())
            .await
            .unwrap();
    });
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (handler, port)
}

/// What Postfix offers, without the no-reply flags (so every step is
/// answered) or with them.
const EVERY_REPLY: u32 = 0x0010_0000 | 0x7f | 0x300;
const NO_REPLY_STEPS: &[u8] = b"CHRLNB";

/// Negotiation through the headers, as Postfix sends them; the replies to
/// the steps that get one are returned.
async fn converse(port: u16, body: &[u8]) -> (TcpStream, Vec<(u8, Vec<u8>)>) {
    converse_offering(port, body, EVERY_REPLY).await
}

async fn converse_offering(
    port: u16,
    body: &[u8],
    offered: u32,
) -> (TcpStream, Vec<(u8, Vec<u8>)>) {
    let silent = offered & 0x000c_9080 != 0;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut neg = Vec::new();
    for v in [6u32, 0x1ff, offered] {
        neg.extend_from_slice(&v.to_be_bytes());
    }
    s.write_all(&packet(b'O', &neg)).await.unwrap();
    let (code, data) = read_packet(&mut s).await;
    assert_eq!(code, b'O');
    assert_eq!(&data[..4], &6u32.to_be_bytes());
    let steps: Vec<(u8, &[u8])> = vec![
        (b'D', b"C{daemon_name}\x00smtpd\x00"),
        (b'C', b"mx.partner.org\x004\x00\x19203.0.113.5\x00"),
        (b'H', b"client.partner.org\x00"),
        (b'D', b"M{auth_authen}\x00alice\x00"),
        (b'M', b"<alice@example.com>\x00SIZE=100\x00"),
        (b'R', b"<bob@partner.org>\x00"),
        (b'D', b"Li\x004XyZ1\x00"),
        (b'L', b"Subject\x00 Hello\x00"),
        (b'L', b"To\x00 bob@partner.org,\n\tcarol@partner.org\x00"),
        (b'N', b""),
        (b'B', body),
    ];
    let mut replies = Vec::new();
    for (code, data) in steps {
        s.write_all(&packet(code, data)).await.unwrap();
        if code != b'D' && !(silent && NO_REPLY_STEPS.contains(&code)) {
            replies.push(read_packet(&mut s).await);
        }
    }
    (s, replies)
}

#[tokio::test]
async fn a_message_is_assembled_and_its_headers_inserted_at_the_top() {
    let (handler, port) = start(
        Verdict::Accept(vec!["X-Sluice-Scanned: dlp".into(), "X-Hold: yes".into()]),
        1 << 20,
    )
    .await;
    let (mut s, replies) = converse(port, b"Hi Bob\r\n").await;
    assert!(replies.iter().all(|(c, _)| *c == b'c'), "{replies:?}");
    s.write_all(&packet(b'E', b"")).await.unwrap();
    let mut answers = Vec::new();
    loop {
        let (code, data) = read_packet(&mut s).await;
        answers.push((code, data));
        if code != b'i' {
            break;
        }
    }
    assert_eq!(answers.len(), 3, "{answers:?}");
    // Inserted at the top in reverse, so the first ends up first.
    assert_eq!(answers[0].1, b"\x00\x00\x00\x00X-Hold\x00 yes\x00");
    assert_eq!(
        answers[1].1,
        b"\x00\x00\x00\x00X-Sluice-Scanned\x00 dlp\x00"
    );
    assert_eq!(answers[2].0, b'a');
    let seen = handler.seen.lock().unwrap();
    let m = &seen[0];
    assert_eq!(m.sender, "alice@example.com");
    assert_eq!(m.recipients, ["bob@partner.org"]);
    assert_eq!(m.client.address, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(m.client.name.as_deref(), Some("mx.partner.org"));
    assert_eq!(m.client.helo.as_deref(), Some("client.partner.org"));
    assert_eq!(m.client.auth_user.as_deref(), Some("alice"));
    assert_eq!(m.client.queue_id.as_deref(), Some("4XyZ1"));
    assert_eq!(
        String::from_utf8_lossy(&m.raw),
        "Subject: Hello\r\nTo: bob@partner.org,\r\n\tcarol@partner.org\r\n\r\nHi Bob\r\n"
    );
}

#[tokio::test]
async fn rejects_discards_and_size_limits_have_their_replies() {
    let (_h, port) = start(Verdict::Reject("550 5.7.1 No cards".into()), 1 << 20).await;
    let (mut s, _) = converse(port, b"4111\r\n").await;
    s.write_all(&packet(b'E', b"")).await.unwrap();
    assert_eq!(
        read_packet(&mut s).await,
        (b'y', b"550 5.7.1 No cards\x00".to_vec())
    );
    // The next message on the same connection after an abort.
    s.write_all(&packet(b'A', b"")).await.unwrap();
    s.write_all(&packet(b'Q', b"")).await.unwrap();

    let (_h, port) = start(Verdict::Discard, 1 << 20).await;
    let (mut s, _) = converse(port, b"x\r\n").await;
    s.write_all(&packet(b'E', b"")).await.unwrap();
    assert_eq!(read_packet(&mut s).await.0, b'd');

    let (h, port) = start(Verdict::Accept(vec![]), 64).await;
    let (mut s, replies) = converse(port, &[b'x'; 100]).await;
    assert_eq!(
        replies.last().unwrap(),
        &(
            b'y',
            b"552 5.3.4 Message size exceeds fixed maximum message size\x00".to_vec()
        )
    );
    s.write_all(&packet(b'E', b"")).await.unwrap();
    assert_eq!(read_packet(&mut s).await.0, b'c');
    assert!(h.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_huge_or_unknown_packet_ends_the_connection() {
    let (_h, port) = start(Verdict::Accept(vec![]), 1 << 20).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&(64u32 << 20).to_be_bytes()).await.unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).await.unwrap(), 0);
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&packet(b'z', b"")).await.unwrap();
    assert_eq!(s.read(&mut buf).await.unwrap(), 0);
}

#[tokio::test]
async fn with_no_reply_steps_a_refusal_waits_for_the_next_answered_step() {
    // A message too large by its headers: the MTA waits for no header or
    // body reply, so the refusal comes at the end of the message.
    let (h, port) = start(Verdict::Accept(vec![]), 40).await;
    let (mut s, replies) = converse_offering(port, b"x\r\n", 0x1f_ffff).await;
    // Only MAIL was answered.
    assert_eq!(replies, [(b'c', Vec::new())]);
    s.write_all(&packet(b'E', b"")).await.unwrap();
    assert_eq!(
        read_packet(&mut s).await,
        (
            b'y',
            b"552 5.3.4 Message size exceeds fixed maximum message size\x00".to_vec()
        )
    );
    assert!(h.seen.lock().unwrap().is_empty());
    // The next message on the connection starts clean.
    s.write_all(&packet(b'M', b"<alice@example.com>\x00"))
        .await
        .unwrap();
    assert_eq!(read_packet(&mut s).await.0, b'c');
}
