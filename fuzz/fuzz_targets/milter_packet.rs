//! Milter packets as an MTA (or an attacker at the milter port) sends
//! them: any command byte, any data. Parsing must give a command or an
//! error, never a panic; every response encodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_milter::protocol::{encode, parse, Response};

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let mut rest = data;
    while let Some((&command, tail)) = rest.split_first() {
        // The next byte says how much data this packet has.
        let Some((&len, tail)) = tail.split_first() else { break };
        let (packet, tail) = tail.split_at((len as usize).min(tail.len()));
        rest = tail;
        if parse(command, packet).is_ok() {
            let _ = encode(&Response::ReplyCode(String::from_utf8_lossy(packet).into_owned()));
        }
    }
});
