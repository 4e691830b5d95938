//! `inspect(envelope, message) → Decision`: extraction, the engine and the
//! policies, in one function shared by the scanner and the proxy.

use std::path::Path;

use sluice_config::{
    Action, Config, ConfigError, ConfigErrors, Constraint, EntityConfig, EntityKind, Mode,
    PolicyConfig, ProfileConfig, RuleConfig,
};
use sluice_dlp::{CountMode, Engine};
use sluice_mime::{extract, header, Extraction, Limits};

use crate::decision::{Decision, Envelope, Evidence, RuleOutcome, Triggered};
use crate::evidence::{excerpt, segments};

/// Which matches of a decision get their [`Evidence::excerpt`]. Cutting
/// one masks every identifier value around the match first, a search of
/// its own: on a JSON scan of the demo config, where no excerpt is shown,
/// the excerpts were a tenth of the decision's instructions
/// (`docs/performance.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excerpts {
    /// Every match (the scanner's human output, which shows them all).
    Every,
    /// The matches of the rules of triggered policies, deciding or
    /// monitoring: what incidents keep (SPEC §8).
    Triggered,
    /// None: the excerpts are left empty (the scanner's JSON output has
    /// none, nor has an incident with `forensics = "none"`).
    None,
}

/// What an inspector evaluates.
#[derive(Debug, Clone)]
enum Evaluation {
    /// Policies in order; rules of every profile a policy uses.
    Policies,
    /// The named profiles' rules, no policy.
    Profiles(Vec<String>),
}

/// A loaded configuration and its compiled engine; immutable and shared.
#[derive(Debug)]
pub struct Inspector {
    config: Config,
    engine: Engine,
    limits: Limits,
    evaluation: Evaluation,
    /// Whether decisions carry their [`Decision::trace`].
    explain: bool,
    /// Which matches get an excerpt.
    excerpts: Excerpts,
}

impl Inspector {
    /// Compiles a validated configuration: loads dictionaries and
    /// fingerprint files (errors name the entity's `path`) and builds the
    /// engine.
    pub fn new(config: Config) -> Result<Inspector, ConfigErrors> {
        let engine = crate::compile::engine(&config)?;
        let limits = config.limits.to_limits();
        Ok(Inspector {
            config,
            engine,
            limits,
            evaluation: Evaluation::Policies,
            explain: true,
            excerpts: Excerpts::Every,
        })
    }

    /// An inspector for `--dictionary CSV`: one dictionary entity, one rule
    /// counting unique terms with the default `ceil(n/2)` threshold, one
    /// profile, no policy. All three are named after the file.
    pub fn for_dictionary(csv: &Path) -> Result<Inspector, ConfigErrors> {
        let name = csv
            .file_stem()
            .map_or_else(|| "dictionary".into(), |s| s.to_string_lossy().into_owned());
        let mut config = Config::parse("", &csv.display().to_string())?;
        config.file = csv.to_path_buf();
        config.entity.push(EntityConfig {
            name: name.clone(),
            kind: EntityKind::Dictionary {
                path: csv.to_path_buf(),
                case_sensitive: false,
            },
        });
        config.rule.push(RuleConfig {
            name: name.clone(),
            entities: vec![name.clone()],
            count: CountMode::Unique,
            scope: Vec::new(),
            severity: None,
            require: Vec::new(),
            proximity: None,
            min_confidence: None,
        });
        config.profile.push(ProfileConfig {
            name: name.clone(),
            rules: vec![name.clone()],
        });
        Inspector::new(config)?.with_profiles(&[name])
    }

    /// Leaves [`Decision::trace`] empty. The trace is prose for people
    /// (the scanner's human output, failing test cases): formatting it for
    /// every message was 4% of a JSON scan, and the proxy never shows it.
    /// Decisions are otherwise identical.
    pub fn without_explanations(mut self) -> Inspector {
        self.explain = false;
        self
    }

    /// Cuts excerpts only for the matches `which` names; the others'
    /// [`Evidence::excerpt`] is empty. Decisions are otherwise identical.
    pub fn with_excerpts(mut self, which: Excerpts) -> Inspector {
        self.excerpts = which;
        self
    }

    /// Evaluates only `profiles` (no policy), as `--profile` does.
    pub fn with_profiles(mut self, profiles: &[String]) -> Result<Inspector, ConfigErrors> {
        for p in profiles {
            if self.engine.profile(p).is_none() {
                return Err(ConfigErrors(vec![ConfigError {
                    file: self.config.file.display().to_string(),
                    path: "--profile".into(),
                    message: format!("no profile named {p:?}"),
                }]));
            }
        }
        self.evaluation = Evaluation::Profiles(profiles.to_vec());
        Ok(self)
    }

    /// Whether policies decide (false with `--profile`/`--dictionary`).
    pub fn uses_policies(&self) -> bool {
        matches!(self.evaluation, Evaluation::Policies)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The compiled engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Profiles evaluated, in order: every profile a policy uses, or the
    /// `--profile` ones.
    fn evaluated_profiles(&self) -> Vec<&str> {
        match &self.evaluation {
            Evaluation::Profiles(p) => p.iter().map(String::as_str).collect(),
            Evaluation::Policies => {
                let mut out: Vec<&str> = Vec::new();
                for p in &self.config.policy {
                    for pr in &p.profiles {
                        if !out.contains(&pr.as_str()) {
                            out.push(pr);
                        }
                    }
                }
                out
            }
        }
    }

    /// Decides what to do with `raw` (one RFC 5322 message) sent as
    /// `envelope`.
    pub fn inspect(&self, envelope: &Envelope, raw: &[u8]) -> Decision {
        let x = extract(raw, &self.limits);
        self.decide(envelope, &x)
    }

    /// The text a reviewer may read of `raw` (SPEC §9's safe preview): each
    /// extracted text part, never the message's own HTML or attachments,
    /// with its EDM cells and identifier values masked.
    pub fn preview(&self, raw: &[u8]) -> Vec<(sluice_mime::Location, String)> {
        let x = extract(raw, &self.limits);
        let scan = self.engine.scan(&segments(&x));
        x.parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let cells = cells_of(&scan.cells, i);
                (p.location.clone(), crate::masked_text(&p.text, &cells))
            })
            .collect()
    }

    /// [`Inspector::inspect`] on an extraction already made.
    pub fn decide(&self, envelope: &Envelope, x: &Extraction) -> Decision {
        let sender = envelope.sender.clone().unwrap_or_else(|| {
            x.from
                .as_deref()
                .and_then(|f| header::addresses(f).into_iter().next())
                .unwrap_or_default()
        });
        let recipients = envelope.recipients.clone().unwrap_or_else(|| {
            x.recipients
                .iter()
                .flat_map(|r| header::addresses(r))
                .collect()
        });
        let scan = self.engine.scan(&segments(x));
        let mut rules = Vec::new();
        // Each rule outcome's engine matches, for its excerpts: which rules
        // need them is known once the policies are applied.
        let mut found = Vec::new();
        for profile in self.evaluated_profiles() {
            for rule in self.engine.profile(profile).unwrap_or_default() {
                let Some(result) = scan.rule(rule) else {
                    continue;
                };
                let Some(severity) = result.severity else {
                    continue;
                };
                let matches = result
                    .matches
                    .iter()
                    .map(|m| Evidence {
                        entity: m.entity.clone(),
                        // A row and a document have no text of their own
                        // to show: their value names them.
                        value: if m.row.is_some() || m.similarity.is_some() {
                            m.value.clone()
                        } else {
                            m.text.clone()
                        },
                        normalized: m.value.clone(),
                        location: x.parts[m.segment].location.clone(),
                        excerpt: String::new(),
                        similarity: m.similarity,
                        passage_words: m.similarity.map(|_| m.passage_words),
                        identifier: m.identifier.map(|(i, _)| i),
                        confidence: m.identifier.map(|(_, c)| c),
                        row: m.row.as_ref().map(|r| r.row),
                        columns: m.row.as_ref().map(|r| r.columns.clone()),
                    })
                    .collect();
                rules.push(RuleOutcome {
                    rule: rule.to_owned(),
                    profile: profile.to_owned(),
                    severity,
                    count: result.count,
                    thresholds: result.thresholds,
                    matches,
                });
                found.push(&result.matches);
            }
        }

        let mut decision = Decision {
            message_id: x.message_id.clone(),
            subject: masked_subject(x, &scan.cells),
            sender,
            recipients,
            decided: None,
            monitored: Vec::new(),
            rules,
            unscannable: x.unscannable.clone(),
            unsupported: x.unsupported.clone(),
            trace: Vec::new(),
        };
        if self.uses_policies() {
            self.apply_policies(&mut decision, x);
        }
        self.cut_excerpts(&mut decision, &found, x, &scan.cells);
        decision
    }

    /// Fills [`Evidence::excerpt`] for the matches [`Inspector::excerpts`]
    /// names; `found` holds each of `d.rules`' engine matches, in order.
    fn cut_excerpts(
        &self,
        d: &mut Decision,
        found: &[&Vec<sluice_dlp::Match>],
        x: &Extraction,
        cells: &[(usize, std::ops::Range<usize>)],
    ) {
        let wanted: Vec<bool> = match self.excerpts {
            Excerpts::None => return,
            Excerpts::Every => vec![true; d.rules.len()],
            Excerpts::Triggered => d
                .rules
                .iter()
                .map(|r| {
                    d.decided
                        .iter()
                        .chain(&d.monitored)
                        .any(|t| t.profiles.contains(&r.profile))
                })
                .collect(),
        };
        for ((rule, matches), wanted) in d.rules.iter_mut().zip(found).zip(wanted) {
            if !wanted {
                continue;
            }
            for (evidence, m) in rule.matches.iter_mut().zip(matches.iter()) {
                evidence.excerpt = excerpt(
                    &x.parts[m.segment].text,
                    m.span.clone(),
                    m.identifier.map(|(i, _)| i.mask(&m.text)).as_deref(),
                    &cells_of(cells, m.segment),
                );
            }
        }
    }

    /// The first triggered policy in enforce mode decides; a monitor-mode
    /// policy that triggers is recorded in `monitored` and evaluation goes
    /// on (SPEC §5). Trace lines are formatted only when explaining (see
    /// [`Inspector::without_explanations`]); what is decided never depends
    /// on them.
    fn apply_policies(&self, d: &mut Decision, x: &Extraction) {
        for p in &self.config.policy {
            let Some(triggered) = self.evaluate(p, d, x) else {
                continue;
            };
            if triggered.is_monitor() {
                d.decided.get_or_insert_with(|| triggered.clone());
                d.monitored.push(triggered);
                continue;
            }
            d.decided = Some(triggered);
            return;
        }
        if self.config.policy.is_empty() && self.explain {
            d.trace.push("no policies configured".into());
        }
    }

    /// Whether policy `p` applies to the decision's envelope and triggers
    /// on its rules or unscannable content; the trace says why.
    fn evaluate(&self, p: &PolicyConfig, d: &mut Decision, x: &Extraction) -> Option<Triggered> {
        let name = &p.name;
        // No `from` is the default constraint: anyone.
        static ANYONE: Constraint = Constraint {
            include: Vec::new(),
            exclude: Vec::new(),
        };
        let from = p.from.as_ref().unwrap_or(&ANYONE);
        if !from.matches(&d.sender) {
            if self.explain {
                let line = format!(
                    "policy {name:?}: does not apply: sender {}",
                    from.explain(sender_label(&d.sender))
                );
                d.trace.push(line);
            }
            return None;
        }
        // Some(None): no `to` constraint; Some(Some(r)): `r` matches it.
        let matched = match &p.to {
            None => Some(None),
            Some(to) => d.recipients.iter().find(|r| to.matches(r)).map(Some),
        };
        let Some(matched) = matched else {
            if self.explain {
                let why = match &p.to {
                    Some(to) if !d.recipients.is_empty() => d
                        .recipients
                        .iter()
                        .map(|r| to.explain(r))
                        .collect::<Vec<_>>()
                        .join("; "),
                    _ => "there are no recipients".into(),
                };
                d.trace.push(format!(
                    "policy {name:?}: does not apply: no recipient matches to ({why})"
                ));
            }
            return None;
        };
        let applies = self.explain.then(|| {
            let to_reason = match (matched, &p.to) {
                (Some(r), Some(to)) => format!("recipient {}", to.explain(r)),
                _ => "any recipient (no to constraint)".to_owned(),
            };
            format!(
                "policy {name:?}: applies (sender {}; {to_reason})",
                from.explain(sender_label(&d.sender))
            )
        });
        let min = p.min_severity;
        let rule_hit = d
            .rules
            .iter()
            .find(|r| p.profiles.contains(&r.profile) && r.severity >= min);
        let unscannable = p.unscannable && !x.unscannable.is_empty();
        if rule_hit.is_none() && !unscannable {
            if let Some(applies) = applies {
                d.trace.push(format!(
                    "{applies}; not triggered: no rule of profiles {:?} reached {min}",
                    p.profiles
                ));
            }
            return None;
        }
        let monitor = self.config.policy_mode(p) == Mode::Monitor;
        if let Some(applies) = applies {
            let reason = match rule_hit {
                Some(r) => format!(
                    "rule {:?} (profile {:?}) reached {} (count {}), at least {}",
                    r.rule, r.profile, r.severity, r.count, min
                ),
                None => format!(
                    "{} part(s) could not be scanned and unscannable = true",
                    x.unscannable.len()
                ),
            };
            d.trace.push(format!(
                "{applies}; TRIGGERED: {reason} → {}{}",
                p.action,
                if monitor {
                    " (monitor mode: recorded, not applied; evaluation goes on)"
                } else {
                    ""
                }
            ));
        }
        Some(Triggered {
            policy: p.name.clone(),
            profiles: p.profiles.clone(),
            action: p.action,
            mode: if monitor {
                Mode::Monitor
            } else {
                Mode::Enforce
            },
            header: p.header.clone().filter(|_| p.action == Action::AddHeader),
            reject_message: p.reject_message.clone(),
            notify_sender: p.notify_sender && !d.sender.is_empty() && !is_automatic(x),
        })
    }
}

/// Whether the message is itself a notification or auto-reply (no sender
/// notification for it).
fn is_automatic(x: &Extraction) -> bool {
    x.auto_submitted
        .as_deref()
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"))
        || x.precedence.as_deref().is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "bulk" | "list" | "junk"
            )
        })
}

fn sender_label(sender: &str) -> &str {
    if sender.is_empty() {
        "<>"
    } else {
        sender
    }
}

/// The EDM cells of segment `segment` (byte ranges of its text).
fn cells_of(
    cells: &[(usize, std::ops::Range<usize>)],
    segment: usize,
) -> Vec<std::ops::Range<usize>> {
    cells
        .iter()
        .filter(|(s, _)| *s == segment)
        .map(|(_, r)| r.clone())
        .collect()
}

/// The subject with its EDM cells masked (SPEC §8: they are masked
/// wherever message text is shown, and the subject is shown everywhere).
fn masked_subject(x: &Extraction, cells: &[(usize, std::ops::Range<usize>)]) -> Option<String> {
    let subject = x.subject.as_ref()?;
    let part = x
        .parts
        .iter()
        .position(|p| p.section == sluice_mime::Section::Subject && p.text == *subject);
    Some(match part {
        Some(i) => sluice_dlp::mask_spans(subject, &cells_of(cells, i)),
        None => subject.clone(),
    })
}
