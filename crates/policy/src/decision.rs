//! `inspect(envelope, message) → Decision`: extraction, the engine and the
//! policies, in one function shared by the scanner and the proxy.

use std::path::Path;

use serde::Serialize;
use sluice_dlp::{
    Definitions, Dictionary, Engine, EntityDefinition, EntityKind, FingerprintSet, Identifier,
    ProfileDefinition, RuleDefinition, Section, Segment, Severity, Thresholds,
};
use sluice_mime::{extract, Extraction, Limits, Location, SkippedPart};

use crate::config::{
    Action, Config, ConfigError, ConfigErrors, CountModeConfig, EntityConfig, Mode, PolicyConfig,
    ProfileConfig, RuleConfig,
};

/// Who sends a message to whom. `None` fields are taken from the message's
/// headers (From; To, Cc and Bcc), as the offline scanner does without
/// `--from`/`--to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The envelope sender (`MAIL FROM`), `""` for the null sender.
    pub sender: Option<String>,
    /// The envelope recipients (`RCPT TO`).
    pub recipients: Option<Vec<String>>,
}

/// One match as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The entity that matched.
    pub entity: String,
    /// The original decoded text of the match.
    pub value: String,
    /// The normalized value counted.
    #[serde(skip)]
    pub normalized: String,
    /// Where it is.
    pub location: Location,
    /// About 40 characters around the match, on one line; a built-in
    /// identifier's value is masked in it ([`Identifier::mask`]).
    #[serde(skip)]
    pub excerpt: String,
    /// For fingerprint matches, the document's similarity in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<u32>,
}

/// A rule that reached its lowest threshold, in one evaluated profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// Rule name.
    pub rule: String,
    /// Profile it was evaluated in.
    pub profile: String,
    /// Level reached.
    pub severity: Severity,
    /// The count.
    pub count: u64,
    /// The thresholds in force.
    #[serde(skip)]
    pub thresholds: Thresholds,
    /// Every counted match.
    pub matches: Vec<Evidence>,
}

/// What to do with one message, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Message-ID header.
    pub message_id: Option<String>,
    /// Decoded Subject.
    pub subject: Option<String>,
    /// The sender the policies saw.
    pub sender: String,
    /// The recipients the policies saw.
    pub recipients: Vec<String>,
    /// The policy that decided, if any triggered.
    pub policy: Option<String>,
    /// That policy's profiles (the rules of [`Decision::rules`] that
    /// count for it are those of these profiles).
    pub profiles: Vec<String>,
    /// Its action (in monitor mode: the action that would have been taken).
    pub action: Option<Action>,
    /// The action is recorded, not applied.
    pub monitor: bool,
    /// Header line to add (`add-header`, enforce mode).
    pub header: Option<String>,
    /// Reply text (`block`).
    pub reject_message: Option<String>,
    /// A sender notification is due (enforce mode, non-empty sender, not an
    /// auto-reply).
    pub notify_sender: bool,
    /// Rules that reached their lowest threshold in the evaluated profiles.
    pub rules: Vec<RuleOutcome>,
    /// Content that could not be scanned.
    pub unscannable: Vec<SkippedPart>,
    /// Content in formats not extracted.
    pub unsupported: Vec<SkippedPart>,
    /// Why each policy did or did not apply and trigger, in order; empty
    /// from an inspector built [`Inspector::without_explanations`].
    pub trace: Vec<String>,
}

impl Decision {
    /// The rules that count for the deciding policy (those of its
    /// profiles); empty when no policy triggered or it triggered on
    /// unscannable content alone.
    pub fn policy_rules(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.rules
            .iter()
            .filter(|r| self.profiles.contains(&r.profile))
    }

    /// The highest severity among [`Decision::policy_rules`].
    pub fn severity(&self) -> Option<Severity> {
        self.policy_rules().map(|r| r.severity).max()
    }

    /// Whether the message triggered a policy whose action is not `allow`
    /// (or, without policies, matched a rule): the scanner's exit status 1.
    pub fn is_finding(&self, policies: bool) -> bool {
        if policies {
            self.action.is_some_and(|a| a != Action::Allow)
        } else {
            !self.rules.is_empty()
        }
    }
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
}

impl Inspector {
    /// Compiles a validated configuration: loads dictionaries and
    /// fingerprint files (errors name the entity's `path`) and builds the
    /// engine.
    pub fn new(config: Config) -> Result<Inspector, ConfigErrors> {
        let file = config.file.display().to_string();
        let mut errors = Vec::new();
        let mut entities = Vec::new();
        for e in &config.entity {
            let at = format!("entity {:?}", e.name);
            let kind = match e.kind.as_str() {
                "dictionary" => {
                    let path = e.path.as_deref().unwrap_or(Path::new(""));
                    match std::fs::File::open(path)
                        .map_err(|err| format!("cannot read {}: {err}", path.display()))
                        .and_then(|f| {
                            Dictionary::from_csv(f)
                                .map_err(|err| format!("{}: {err}", path.display()))
                        }) {
                        Ok(dictionary) => EntityKind::Dictionary {
                            dictionary,
                            case_sensitive: e.case_sensitive.unwrap_or(false),
                        },
                        Err(message) => {
                            errors.push(ConfigError {
                                file: file.clone(),
                                path: format!("{at}.path"),
                                message,
                            });
                            continue;
                        }
                    }
                }
                "fingerprint" => {
                    let path = e.path.as_deref().unwrap_or(Path::new(""));
                    match std::fs::read_to_string(path)
                        .map_err(|err| format!("cannot read {}: {err}", path.display()))
                        .and_then(|t| {
                            FingerprintSet::from_json(&t)
                                .map_err(|err| format!("{}: {err}", path.display()))
                        }) {
                        Ok(documents) => EntityKind::Fingerprint {
                            documents,
                            similarity: e.similarity.unwrap_or(30),
                        },
                        Err(message) => {
                            errors.push(ConfigError {
                                file: file.clone(),
                                path: format!("{at}.path"),
                                message,
                            });
                            continue;
                        }
                    }
                }
                "regex" => EntityKind::Regex {
                    pattern: e.pattern.clone().unwrap_or_default(),
                    case_sensitive: e.case_sensitive.unwrap_or(false),
                },
                other => match Identifier::from_name(other) {
                    Some(id) => EntityKind::Identifier(id),
                    None => continue,
                },
            };
            entities.push(EntityDefinition {
                name: e.name.clone(),
                kind,
            });
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let rules = config
            .rule
            .iter()
            .map(|r| RuleDefinition {
                name: r.name.clone(),
                entities: r.entities.clone(),
                count: r.count.into(),
                scope: r.scope.iter().map(|&s| s.into()).collect(),
                severity: r.severity.map(|s| Thresholds {
                    low: s.low,
                    medium: s.medium,
                    high: s.high,
                    critical: s.critical,
                }),
                require: r.require.clone(),
                proximity: r.proximity,
            })
            .collect();
        let profiles = config
            .profile
            .iter()
            .map(|p| ProfileDefinition {
                name: p.name.clone(),
                rules: p.rules.clone(),
            })
            .collect();
        let engine = Engine::new(Definitions {
            entities,
            rules,
            profiles,
        })
        .map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.clone(),
                path: "(definitions)".into(),
                message: e.to_string(),
            }])
        })?;
        let limits = config.limits.to_limits();
        Ok(Inspector {
            config,
            engine,
            limits,
            evaluation: Evaluation::Policies,
            explain: true,
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
            kind: "dictionary".into(),
            path: Some(csv.to_path_buf()),
            case_sensitive: None,
            pattern: None,
            similarity: None,
        });
        config.rule.push(RuleConfig {
            name: name.clone(),
            entities: vec![name.clone()],
            count: CountModeConfig::Unique,
            scope: Vec::new(),
            severity: None,
            require: Vec::new(),
            proximity: None,
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

    /// [`Inspector::inspect`] on an extraction already made.
    pub fn decide(&self, envelope: &Envelope, x: &Extraction) -> Decision {
        let sender = envelope.sender.clone().unwrap_or_else(|| {
            x.from
                .as_deref()
                .and_then(|f| addresses(f).into_iter().next())
                .unwrap_or_default()
        });
        let recipients = envelope
            .recipients
            .clone()
            .unwrap_or_else(|| x.recipients.iter().flat_map(|r| addresses(r)).collect());
        let scan = self.engine.scan(&segments(x));
        let identifier_of = |entity: &str| {
            self.config
                .entity
                .iter()
                .find(|e| e.name == entity)
                .and_then(|e| Identifier::from_name(&e.kind))
        };

        let mut rules = Vec::new();
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
                        value: m.text.clone(),
                        normalized: m.value.clone(),
                        location: x.parts[m.segment].location.clone(),
                        excerpt: excerpt(
                            &x.parts[m.segment].text,
                            m.span.clone(),
                            identifier_of(&m.entity).map(|i| i.mask(&m.text)).as_deref(),
                        ),
                        similarity: m.similarity,
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
            }
        }

        let mut decision = Decision {
            message_id: x.message_id.clone(),
            subject: x.subject.clone(),
            sender,
            recipients,
            policy: None,
            profiles: Vec::new(),
            action: None,
            monitor: false,
            header: None,
            reject_message: None,
            notify_sender: false,
            rules,
            unscannable: x.unscannable.clone(),
            unsupported: x.unsupported.clone(),
            trace: Vec::new(),
        };
        if self.uses_policies() {
            self.apply_policies(&mut decision, x);
        }
        decision
    }

    /// The first triggered policy decides. Trace lines are formatted only
    /// when explaining (see [`Inspector::without_explanations`]); what is
    /// decided never depends on them.
    fn apply_policies(&self, d: &mut Decision, x: &Extraction) {
        for p in &self.config.policy {
            let name = &p.name;
            // No `from` is the default constraint: anyone.
            static ANYONE: crate::Constraint = crate::Constraint {
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
                continue;
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
                continue;
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
            let min: Severity = p.min_severity.into();
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
                continue;
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
                        " (monitor mode: recorded, not applied)"
                    } else {
                        ""
                    }
                ));
            }
            self.set_action(d, p, monitor, x);
            return;
        }
        if self.config.policy.is_empty() && self.explain {
            d.trace.push("no policies configured".into());
        }
    }

    fn set_action(&self, d: &mut Decision, p: &PolicyConfig, monitor: bool, x: &Extraction) {
        d.policy = Some(p.name.clone());
        d.profiles = p.profiles.clone();
        d.action = Some(p.action);
        d.monitor = monitor;
        if monitor {
            return;
        }
        match p.action {
            Action::AddHeader => d.header = p.header.clone(),
            Action::Block => d.reject_message = Some(p.reject_message.clone()),
            _ => {}
        }
        d.notify_sender = p.notify_sender && !d.sender.is_empty() && !is_automatic(x);
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

/// The engine's view of an extraction: each text part as a [`Segment`]
/// with its scope section and alternative branch (segment `i` is
/// `x.parts[i]`).
pub fn segments(x: &Extraction) -> Vec<Segment<'_>> {
    x.parts
        .iter()
        .map(|p| Segment {
            text: &p.text,
            section: match p.section {
                sluice_mime::Section::Subject => Section::Subject,
                sluice_mime::Section::Body => Section::Body,
                sluice_mime::Section::Attachments => Section::Attachments,
            },
            alternative: p.alternative.as_ref().map(|a| (a.group.as_str(), a.branch)),
        })
        .collect()
}

/// Bare addresses in a header value (`"A" <a@b>, c@d` → `a@b`, `c@d`).
pub fn addresses(value: &str) -> Vec<String> {
    if let Some(address) = simple_address(value) {
        return vec![address.to_owned()];
    }
    match mailparse::addrparse(value) {
        Ok(list) => list
            .iter()
            .flat_map(|a| match a {
                mailparse::MailAddr::Single(s) => vec![s.addr.clone()],
                mailparse::MailAddr::Group(g) => g.addrs.iter().map(|s| s.addr.clone()).collect(),
            })
            .filter(|a| a.contains('@'))
            .collect(),
        Err(_) => value
            .split([',', ';', ' ', '<', '>'])
            .filter(|w| w.contains('@'))
            .map(str::to_owned)
            .collect(),
    }
}

/// The address of a header value that is one bare address (`a@b`) or one
/// `Name <a@b>` with a plain name: most From and To headers. They need no
/// RFC 5322 parser (which was a visible share of scanning a mail folder);
/// anything with quotes, comments, groups, lists or escapes goes to
/// `mailparse`, and gives the same address for these simple forms.
fn simple_address(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.contains([',', '"', '(', ')', ':', ';', '\\', '[']) {
        return None;
    }
    let address = match value.split_once('<') {
        None => value,
        Some((name, rest)) => {
            let inner = rest.strip_suffix('>')?;
            if name.contains(['@', '>']) || inner.contains(['<', '>']) {
                return None;
            }
            inner
        }
    };
    let (local, domain) = address.split_once('@')?;
    let plain = |s: &str| {
        !s.is_empty()
            && !s.contains(|c: char| c.is_whitespace() || c == '@' || c == '<' || c == '>')
    };
    (plain(local) && plain(domain)).then_some(address)
}

/// Bytes on each side of a match whose identifiers are masked before an
/// excerpt is cut: more than the excerpt shows plus the longest identifier
/// it could cut through, so no value at the excerpt's edge escapes masking
/// by being cut first.
const REDACT_MARGIN: usize = 200;

/// About 40 characters around `span` of `text`, whitespace collapsed. Every
/// built-in identifier value near the match is masked first (SPEC §8: a
/// list of cards must not show the next card whole beside this one); the
/// match itself is shown as `shown` when given (a masked identifier).
pub fn excerpt(text: &str, span: std::ops::Range<usize>, shown: Option<&str>) -> String {
    let start = span.start.min(text.len());
    let end = span.end.min(text.len()).max(start);
    let mut lo = start.saturating_sub(REDACT_MARGIN);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = end.saturating_add(REDACT_MARGIN).min(text.len());
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    let (window, kept) = sluice_dlp::redact_keeping(&text[lo..hi], start - lo..end - lo);
    let before: String = window[..kept.start]
        .chars()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = window[kept.end..].chars().take(20).collect();
    let mut s = String::new();
    if lo > 0 || before.len() < kept.start {
        s.push('…');
    }
    s.push_str(&before);
    s.push_str(shown.unwrap_or(&window[kept.clone()]));
    s.push_str(&after);
    if hi < text.len() || kept.end + after.len() < window.len() {
        s.push('…');
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_mask_neighbouring_identifiers_before_cutting() {
        let text = "list 4111 1111 1111 1111 5500 0000 0000 0004 tail";
        let at = text.find("5500").unwrap();
        let e = excerpt(text, at..at + 19, None);
        assert_eq!(e, "…**** **** **** 1111 **** **** **** 0004 tail");
        let words = "a customer list with the Account Manager named here";
        let at = words.find("Account").unwrap();
        assert_eq!(
            excerpt(words, at..at + 15, None),
            "…tomer list with the Account Manager named here"
        );
        let wide = "１２３ ４１１１１１１１１１１１１１１１ then";
        assert!(!excerpt(wide, 0..3, None).contains("1111111111111111"));
    }

    #[test]
    fn simple_addresses_are_read_as_mailparse_reads_them() {
        let through_mailparse = |v: &str| -> Vec<String> {
            mailparse::addrparse(v)
                .unwrap()
                .iter()
                .flat_map(|a| match a {
                    mailparse::MailAddr::Single(s) => vec![s.addr.clone()],
                    mailparse::MailAddr::Group(g) => {
                        g.addrs.iter().map(|s| s.addr.clone()).collect()
                    }
                })
                .collect()
        };
        for v in [
            "alice@example.com",
            "  alice@example.com ",
            "<alice@example.com>",
            "Alice <alice@example.com>",
            "Alice Smith <Alice.Smith+tag@Example.COM>",
            "=?utf-8?q?Ren=C3=A9?= <rene@example.fr>",
        ] {
            assert_eq!(
                simple_address(v).map(str::to_owned),
                through_mailparse(v).pop(),
                "{v:?}"
            );
            assert_eq!(addresses(v), through_mailparse(v), "{v:?}");
        }
        // Anything beyond the simple forms is left to the parser.
        for v in [
            "\"Smith, Alice\" <alice@example.com>",
            "a@example.com, b@example.com",
            "alice@example.com (Alice)",
            "team: a@example.com, b@example.com;",
            "not an address",
            "a@b@c",
            "x@ <y@z>",
            "Bob < bob@partner.org >",
        ] {
            assert_eq!(simple_address(v), None, "{v:?}");
        }
        assert_eq!(
            addresses("\"Smith, Alice\" <alice@example.com>, b@example.com"),
            ["alice@example.com", "b@example.com"]
        );
    }
}
