//! Shared by the fuzz targets.

/// Keeps panics that the code under test catches on purpose (extractors
/// run under `catch_unwind` and become unscannable parts) from counting as
/// crashes: libfuzzer-sys's own hook aborts on every panic, caught or not.
/// A panic that escapes the target still aborts (libfuzzer-sys's wrapper
/// does that), and is a finding.
pub fn count_only_uncaught_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}
