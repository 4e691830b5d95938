//! What the proxy stamps on what it makes: ids (ULIDs) and times.

use std::sync::Mutex;

/// A new ULID. Ids made in one millisecond by this process still increase
/// (`ulid::Generator`), so incidents made together sort in the order they
/// were made.
pub fn new_id() -> String {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // The generator refuses only when 2^80 ids were made in one
    // millisecond; a fresh random id is then as good.
    generator
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

/// Now, in whole seconds: incidents show `2026-11-28T09:14:03Z`.
pub fn now_in_seconds() -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Now as `Date:` and `Received:` write it: `Sat, 28 Nov 2026 09:14:03 +0000`.
pub fn mail_date() -> String {
    jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_dates_have_the_mail_form() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 26);
        assert!(a < b);
        let date = mail_date();
        assert!(date.ends_with(" +0000") && date.len() == 31, "{date}");
        assert_eq!(now_in_seconds().subsec_nanosecond(), 0);
    }
}
