//! Incident queries (SPEC §8) as the HTTP API and the CLI ask them: the
//! time period, paging and the query language, checked once.

use sluice_store::{Filter, IncidentQuery};

/// Most incidents one request returns.
pub const MAX_LIMIT: u32 = 1000;

/// What a reader asks for, before it is checked.
#[derive(Debug, Default)]
pub struct IncidentParams {
    /// The §8 filter (`""`: every incident).
    pub query: String,
    /// The last this many seconds.
    pub timeperiod: Option<u64>,
    /// Since this Unix time (seconds).
    pub starttime: Option<u64>,
    /// Up to this Unix time, its whole second included.
    pub endtime: Option<u64>,
    /// At most this many (default 100, at most [`MAX_LIMIT`]).
    pub limit: Option<u64>,
    /// After skipping this many.
    pub offset: Option<u64>,
}

impl IncidentParams {
    /// The store query; every problem is listed (a bad query names the
    /// position of its error).
    pub fn query(&self) -> Result<IncidentQuery, Vec<String>> {
        let IncidentParams {
            query,
            timeperiod,
            starttime,
            endtime,
            limit,
            offset,
        } = self;
        // Seconds beyond what an i64 holds are as good as i64::MAX.
        let seconds = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let (timeperiod, starttime, endtime) =
            (seconds(*timeperiod), seconds(*starttime), seconds(*endtime));
        let mut errors = Vec::new();
        let filter = match Filter::parse(query) {
            Ok(f) => Some(f),
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        };
        if timeperiod.is_some() && (starttime.is_some() || endtime.is_some()) {
            errors.push("timeperiod cannot be combined with starttime/endtime".into());
        }
        if let (Some(s), Some(e)) = (starttime, endtime) {
            if e < s {
                errors.push("endtime is before starttime".into());
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Seconds past what a timestamp holds are clamped to its range.
        let at = |seconds: i64| {
            let seconds = seconds.clamp(
                jiff::Timestamp::MIN.as_second(),
                jiff::Timestamp::MAX.as_second(),
            );
            jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        };
        let now = jiff::Timestamp::now().as_second();
        Ok(IncidentQuery {
            filter: filter.unwrap_or(Filter::All),
            since: timeperiod
                .map(|p| at(now.saturating_sub(p)))
                .or(starttime.map(at)),
            // endtime is inclusive of its whole second.
            until: endtime.map(|e| at(e.saturating_add(1))),
            limit: limit.map_or(100, |l| l.min(u64::from(MAX_LIMIT)) as u32),
            offset: offset.map_or(0, |o| o.min(u64::from(u32::MAX)) as u32),
        })
    }
}
