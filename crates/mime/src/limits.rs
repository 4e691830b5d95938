//! Extraction limits (`[limits]` in `sluice.toml`) and the per-message budget
//! that enforces them.

use std::time::{Duration, Instant};

/// Bounds on the work one message may cause. The defaults are those of
/// SPEC §2 `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of multiparts, forwarded messages and archives. The message
    /// itself is depth 0; a part nested deeper than this is unscannable.
    /// Values above [`Limits::DEPTH_CEILING`] act as the ceiling.
    pub max_depth: usize,
    /// Expanded (decoded, decompressed) size of one part or archive entry.
    pub max_part_bytes: u64,
    /// Expanded size of everything decoded from one message.
    pub max_expanded_bytes: u64,
    /// Entries read from one archive.
    pub max_archive_entries: usize,
    /// MIME parts and extracted documents in one message.
    pub max_parts: usize,
    /// Wall-clock time for one message; past it what is left is unscannable.
    pub max_scan_time: Duration,
}

impl Limits {
    /// The deepest nesting extraction will follow whatever `max_depth` says:
    /// each level is a stack frame of the caller's thread, and a stack
    /// overflow would abort the process.
    pub const DEPTH_CEILING: usize = 100;

    fn effective_depth(&self) -> usize {
        self.max_depth.min(Self::DEPTH_CEILING)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10,
            max_part_bytes: 64 << 20,
            max_expanded_bytes: 256 << 20,
            max_archive_entries: 10_000,
            max_parts: 10_000,
            max_scan_time: Duration::from_secs(20),
        }
    }
}

/// What one message has used of its [`Limits`] so far.
#[derive(Debug)]
pub(crate) struct Budget<'a> {
    pub limits: &'a Limits,
    pub deadline: Instant,
    expanded: u64,
    parts: usize,
}

/// Why a budget refused more work; its `Display` is the unscannable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Depth(usize),
    PartBytes(u64),
    ExpandedBytes(u64),
    ArchiveEntries(usize),
    Parts(usize),
    ScanTime(Duration),
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Depth(n) => write!(f, "limit exceeded: nesting deeper than max_depth {n}"),
            Exceeded::PartBytes(n) => {
                write!(f, "limit exceeded: part larger than max_part_bytes {n}; only the first {n} bytes scanned")
            }
            Exceeded::ExpandedBytes(n) => {
                write!(
                    f,
                    "limit exceeded: message expands past max_expanded_bytes {n}"
                )
            }
            Exceeded::ArchiveEntries(n) => {
                write!(
                    f,
                    "limit exceeded: archive has more than max_archive_entries {n}"
                )
            }
            Exceeded::Parts(n) => write!(f, "limit exceeded: more than max_parts {n}"),
            Exceeded::ScanTime(d) => {
                write!(f, "limit exceeded: max_scan_time {}s", d.as_secs_f64())
            }
        }
    }
}

impl<'a> Budget<'a> {
    pub fn new(limits: &'a Limits) -> Self {
        Budget {
            limits,
            deadline: Instant::now() + limits.max_scan_time,
            expanded: 0,
            parts: 0,
        }
    }

    /// Counts one more part; refuses past `max_parts` or the deadline.
    pub fn take_part(&mut self) -> Result<(), Exceeded> {
        self.check_time()?;
        if self.parts >= self.limits.max_parts {
            return Err(Exceeded::Parts(self.limits.max_parts));
        }
        self.parts += 1;
        Ok(())
    }

    pub fn check_depth(&self, depth: usize) -> Result<(), Exceeded> {
        if depth > self.limits.effective_depth() {
            Err(Exceeded::Depth(self.limits.effective_depth()))
        } else {
            Ok(())
        }
    }

    pub fn check_time(&self) -> Result<(), Exceeded> {
        if Instant::now() >= self.deadline {
            Err(Exceeded::ScanTime(self.limits.max_scan_time))
        } else {
            Ok(())
        }
    }

    /// How many expanded bytes the next part may produce: the smaller of
    /// `max_part_bytes` and what is left of `max_expanded_bytes`.
    pub fn part_allowance(&self) -> u64 {
        self.limits
            .max_part_bytes
            .min(self.limits.max_expanded_bytes.saturating_sub(self.expanded))
    }

    /// The reason to give when a part hit [`Budget::part_allowance`].
    pub fn allowance_reason(&self) -> Exceeded {
        if self.limits.max_part_bytes
            <= self.limits.max_expanded_bytes.saturating_sub(self.expanded)
        {
            Exceeded::PartBytes(self.limits.max_part_bytes)
        } else {
            Exceeded::ExpandedBytes(self.limits.max_expanded_bytes)
        }
    }

    /// Expanded bytes the message may still produce.
    pub fn remaining_expanded(&self) -> u64 {
        self.limits.max_expanded_bytes.saturating_sub(self.expanded)
    }

    /// Charges `n` expanded bytes to the message.
    pub fn charge(&mut self, n: u64) {
        self.expanded = self.expanded.saturating_add(n);
    }

    pub fn remaining_time(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}
