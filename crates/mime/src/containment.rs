//! Panics of in-process extractors stay theirs.
//!
//! The extractors that run in this process (zip, gzip and tar listings,
//! Office XML, RTF, HTML) are bounded by construction: they read through
//! the part allowance and are iterative, so none can allocate or loop past
//! the message's limits. What is left is a panic on input their authors did
//! not expect; `guarded` turns it into an unscannable part's reason.
//! Parsers that are not bounded by construction (PDF, spreadsheets) run in
//! worker processes instead ([`crate::worker`]).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// True while the calling thread runs a guarded extractor: a panic hook
/// can stay quiet about panics that become unscannable parts.
pub fn panicking_inside_guard() -> bool {
    GUARDED.with(Cell::get)
}

/// Runs an extractor named `name` on the calling thread, turning its panic
/// into an error: `"{name} extractor panicked: {message}"`.
pub(crate) fn guarded<T>(name: &str, job: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let outer = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(job));
    GUARDED.with(|g| g.set(outer));
    result.unwrap_or_else(|payload| {
        Err(format!(
            "{name} extractor panicked: {}",
            panic_message(payload)
        ))
    })
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_turns_a_panic_into_an_error() {
        assert_eq!(guarded("office", || Ok::<_, String>(7)), Ok(7));
        let r: Result<(), String> = guarded("office", || panic!("bad central directory"));
        assert_eq!(
            r,
            Err("office extractor panicked: bad central directory".into())
        );
    }
}
