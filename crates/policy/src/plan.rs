//! From a decision to what happens: one pure function, shared by every
//! front end (the SMTP proxy today, the milter next), so they cannot
//! disagree about what a decision means.
//!
//! ```
//! use sluice_policy::{plan, Decision, Disposition};
//!
//! let nothing = Decision {
//!     message_id: None, subject: None, sender: "a@example.com".into(),
//!     recipients: vec!["b@example.org".into()], decided: None, monitored: vec![],
//!     rules: vec![], unscannable: vec![], unsupported: vec![], trace: vec![],
//! };
//! let p = plan(&nothing);
//! assert_eq!(p.disposition, Disposition::Relay { header: None });
//! assert!(p.incidents.is_empty() && !p.notify_sender);
//! ```

use sluice_config::Action;

use crate::decision::{Decision, Triggered};

/// What happens to the message itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Passed on, with this header line added at the top when set.
    Relay {
        /// `Name: value`, from an `add-header` policy.
        header: Option<String>,
    },
    /// Refused at the end of DATA with `550 5.7.1 <text>`.
    Reject {
        /// The policy's `reject_message`.
        text: String,
    },
    /// Held durably until released; the store must have it before the
    /// client is answered.
    Quarantine,
}

/// One incident to record: a triggered policy whose action is not
/// `allow` (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentPlan<'a> {
    /// The policy.
    pub triggered: &'a Triggered,
    /// This incident's policy is the one whose action is applied (its
    /// incident gets the quarantine id, the webhook and the notice).
    pub deciding: bool,
}

/// Everything a front end does with one inspected message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    /// What happens to the message.
    pub disposition: Disposition,
    /// Incidents to record, in policy order: every triggered policy but
    /// `allow` ones — monitor-mode ones with `"monitor": true`.
    pub incidents: Vec<IncidentPlan<'a>>,
    /// Send the sender a notification about the deciding incident.
    pub notify_sender: bool,
}

impl Plan<'_> {
    /// The deciding incident, when there is one to record.
    pub fn deciding(&self) -> Option<&Triggered> {
        self.incidents
            .iter()
            .find(|i| i.deciding)
            .map(|i| i.triggered)
    }
}

/// What happens to a message with decision `d` (SPEC §5).
///
/// Only an enforce-mode decision acts: a block rejects, a quarantine
/// holds, an add-header relays with its header, a notification goes out
/// when the policy asks and the message may get one. Monitor-mode policies
/// only have their incidents recorded.
pub fn plan(d: &Decision) -> Plan<'_> {
    let enforced = d.decided.as_ref().filter(|t| !t.is_monitor());
    let disposition = match enforced {
        Some(t) => match t.action {
            Action::Block => Disposition::Reject {
                text: t.reject_message.clone(),
            },
            Action::Quarantine => Disposition::Quarantine,
            Action::AddHeader => Disposition::Relay {
                header: t.header.clone(),
            },
            Action::Allow | Action::Alert => Disposition::Relay { header: None },
        },
        None => Disposition::Relay { header: None },
    };
    // Monitor-mode policies before the enforcing one, then that one; with
    // only monitor policies, all of them (the first is the reported one).
    let mut incidents: Vec<IncidentPlan> = d
        .monitored
        .iter()
        .map(|t| IncidentPlan {
            triggered: t,
            deciding: false,
        })
        .collect();
    if let Some(t) = enforced {
        incidents.push(IncidentPlan {
            triggered: t,
            deciding: true,
        });
    } else if let Some(first) = incidents.first_mut() {
        first.deciding = true;
    }
    incidents.retain(|i| i.triggered.action != Action::Allow);
    Plan {
        disposition,
        incidents,
        notify_sender: enforced.is_some_and(|t| t.notify_sender && t.action != Action::Allow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_config::Mode;

    fn triggered(policy: &str, action: Action, mode: Mode) -> Triggered {
        Triggered {
            policy: policy.into(),
            profiles: vec!["P".into()],
            action,
            mode,
            header: (action == Action::AddHeader).then(|| "X-Sluice-Hold: yes".into()),
            reject_message: "No".into(),
            notify_sender: true,
        }
    }

    fn decision(decided: Option<Triggered>, monitored: Vec<Triggered>) -> Decision {
        Decision {
            message_id: None,
            subject: None,
            sender: "a@example.com".into(),
            recipients: vec!["b@example.org".into()],
            decided,
            monitored,
            rules: vec![],
            unscannable: vec![],
            unsupported: vec![],
            trace: vec![],
        }
    }

    #[test]
    fn each_enforced_action_has_its_disposition() {
        let cases = [
            (Action::Allow, Disposition::Relay { header: None }, 0, false),
            (Action::Alert, Disposition::Relay { header: None }, 1, true),
            (
                Action::AddHeader,
                Disposition::Relay {
                    header: Some("X-Sluice-Hold: yes".into()),
                },
                1,
                true,
            ),
            (
                Action::Block,
                Disposition::Reject { text: "No".into() },
                1,
                true,
            ),
            (Action::Quarantine, Disposition::Quarantine, 1, true),
        ];
        for (action, disposition, incidents, notify) in cases {
            let d = decision(Some(triggered("x", action, Mode::Enforce)), vec![]);
            let p = plan(&d);
            assert_eq!(p.disposition, disposition, "{action}");
            assert_eq!(p.incidents.len(), incidents, "{action}");
            assert_eq!(p.notify_sender, notify, "{action}");
            assert_eq!(p.deciding().is_some(), incidents == 1, "{action}");
        }
    }

    #[test]
    fn monitor_policies_record_and_change_nothing() {
        let m1 = triggered("try-block", Action::Block, Mode::Monitor);
        let m2 = triggered("try-quarantine", Action::Quarantine, Mode::Monitor);
        let d = decision(Some(m1.clone()), vec![m1.clone(), m2.clone()]);
        let p = plan(&d);
        assert_eq!(p.disposition, Disposition::Relay { header: None });
        assert!(!p.notify_sender);
        assert_eq!(p.incidents.len(), 2);
        assert!(p.incidents[0].deciding && !p.incidents[1].deciding);
        assert_eq!(p.deciding().map(|t| t.policy.as_str()), Some("try-block"));
    }

    #[test]
    fn the_enforcing_policy_decides_after_monitor_ones() {
        let m = triggered("try", Action::Alert, Mode::Monitor);
        let b = triggered("block", Action::Block, Mode::Enforce);
        let d = decision(Some(b.clone()), vec![m.clone()]);
        let p = plan(&d);
        assert_eq!(p.disposition, Disposition::Reject { text: "No".into() });
        let order: Vec<(&str, bool)> = p
            .incidents
            .iter()
            .map(|i| (i.triggered.policy.as_str(), i.deciding))
            .collect();
        assert_eq!(order, [("try", false), ("block", true)]);
        assert!(p.notify_sender);
    }
}
