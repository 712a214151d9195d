//! Guardrails (issue #24): a gateway's detectors compiled once per configuration revision, and
//! what they do to a text — block it, replace what they find with typed placeholders (kept in
//! a [`Vault`] so an answer can have them put back), or note it. The proxy applies them to
//! requests and answers (`proxy/guard.rs`); "try it" (CLI, GraphQL, console) to a text.
//!
//! Invariant: a refusal names the detector, never the text it matched; placeholders and the
//! originals they stand for live only in the request's vault (never logged, never stored).
//! Invariant: a scan is linear in the text: each detector's pattern is searched once, from the
//! places its first bytes allow (see `detect.rs`), so text that holds nothing costs little.

pub mod detect;
pub mod digits;
pub mod stream;

use app::types::{Detector, GuardAction, GuardTrial, Guardrail};
use detect::Finder;
use digits::Numbers;
use std::{collections::HashMap, ops::Range};

/// Which text a scan reads, and so which guardrails apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// What goes to the provider.
    Request,
    /// What goes back to the client.
    Response,
    /// What the request log stores of the request (`logs_only` guardrails).
    LoggedRequest,
    /// What the request log stores of the answer.
    LoggedResponse,
}

impl Side {
    /// How the log and the metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Request | Side::LoggedRequest => "request",
            Side::Response | Side::LoggedResponse => "response",
        }
    }

    fn applies(self, rule: &Guardrail) -> bool {
        match self {
            Side::Request => rule.direction.requests() && !rule.logs_only,
            Side::Response => rule.direction.responses() && !rule.logs_only,
            Side::LoggedRequest => rule.direction.requests() && rule.logs_only,
            Side::LoggedResponse => rule.direction.responses() && rule.logs_only,
        }
    }
}

/// A guardrail compiled.
#[derive(Debug)]
struct Rule {
    detector: Detector,
    finder: Finder,
    action: GuardAction,
}

/// The guardrails one side applies, by their place in [`Guards::rules`].
#[derive(Debug)]
struct Pass {
    rules: Vec<usize>,
}

/// A moderation guardrail: the endpoint asked about each request, what a flag from it does,
/// and whether a request is refused when it cannot answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moderation {
    pub endpoint: String,
    pub action: GuardAction,
    pub fail_closed: bool,
}

/// A gateway's guardrails, compiled.
#[derive(Debug)]
pub struct Guards {
    rules: Vec<Rule>,
    /// By [`Side`], in its order.
    passes: [Option<Pass>; 4],
    /// The moderation guardrails (read by no pass: their endpoints read the text).
    pub moderations: Vec<Moderation>,
}

/// A text refused by a `block` guardrail: the detector's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub detector: &'static str,
    pub side: Side,
}

impl Blocked {
    /// What the client is told (the detector, never the text).
    pub fn message(&self) -> String {
        let what = match self.side {
            Side::Request | Side::LoggedRequest => "The request was",
            Side::Response | Side::LoggedResponse => "The answer was",
        };
        format!("{what} blocked by this gateway's `{}` guardrail.", self.detector)
    }
}

/// What a request's guardrails found, each `(side, detector, action)` once, in the order found.
#[derive(Debug, Default)]
pub struct Found(Vec<(&'static str, &'static str, GuardAction)>);

impl Found {
    /// Notes a finding (once).
    pub fn note(&mut self, side: Side, detector: &'static str, action: GuardAction) {
        let finding = (side.as_str(), detector, action);
        if !self.0.contains(&finding) {
            self.0.push(finding);
        }
    }

    /// Each finding: direction, detector, action.
    pub fn iter(&self) -> impl Iterator<Item = &(&'static str, &'static str, GuardAction)> {
        self.0.iter()
    }

    /// As the request log holds it: `request:email:redact,response:card:flag`; `None` when
    /// nothing was found.
    pub fn log_text(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            (self.0.iter())
                .map(|(side, detector, action)| format!("{side}:{detector}:{}", action.as_str()))
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

/// The placeholders a request's text was given, and what they stand for.
#[derive(Debug, Default)]
pub struct Vault {
    /// Placeholder, original, and whether the answer gets the original back.
    entries: Vec<(String, String, bool)>,
    /// Each (type, original)'s entry.
    by_original: HashMap<(&'static str, String), usize>,
    /// Each placeholder's entry.
    by_placeholder: HashMap<String, usize>,
    /// How many placeholders each type has.
    counts: HashMap<&'static str, usize>,
    /// Whether any entry is to be put back.
    restores: bool,
}

impl Vault {
    /// The placeholder for `original` found by `detector`: the one it already has, or the
    /// next of its type (`[EMAIL_1]`, `[EMAIL_2]`, …).
    fn placeholder(&mut self, detector: &Detector, original: &str, restore: bool) -> &str {
        let label = detector.label();
        self.restores |= restore;
        let at = match self.by_original.get(&(label, original.to_string())) {
            Some(&at) => {
                self.entries[at].2 |= restore;
                at
            }
            None => {
                let count = self.counts.entry(label).or_default();
                *count += 1;
                let placeholder = format!("[{label}_{count}]");
                self.entries.push((placeholder.clone(), original.to_string(), restore));
                let at = self.entries.len() - 1;
                self.by_original.insert((label, original.to_string()), at);
                self.by_placeholder.insert(placeholder, at);
                at
            }
        };
        &self.entries[at].0
    }

    /// Whether any placeholder is to be put back.
    pub fn restores(&self) -> bool {
        self.restores
    }

    /// `text` with the placeholders to be put back replaced by their originals, in one pass;
    /// `None` when it has none.
    pub fn restore(&self, text: &str) -> Option<String> {
        self.restore_in(text, false)
    }

    /// As [`Vault::restore`]; with `json`, `text` is JSON (a tool call's arguments) and each
    /// original goes back escaped as a JSON string's content, so the arguments stay JSON.
    pub fn restore_in(&self, text: &str, json: bool) -> Option<String> {
        if !self.restores || !text.contains('[') {
            return None;
        }
        let mut out = String::new();
        let (mut copied, mut from) = (0, 0);
        while let Some(open) = text[from..].find('[').map(|at| from + at) {
            let Some(close) = text[open..].find(']').map(|at| open + at) else {
                break;
            };
            match self
                .by_placeholder
                .get(&text[open..=close])
                .map(|&at| &self.entries[at])
            {
                Some((_, original, true)) => {
                    out.push_str(&text[copied..open]);
                    match json {
                        true => {
                            let quoted = serde_json::to_string(original).unwrap_or_default();
                            out.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default());
                        }
                        false => out.push_str(original),
                    }
                    (copied, from) = (close + 1, close + 1);
                }
                Some((_, _, false)) | None => from = open + 1,
            }
        }
        (copied > 0).then(|| {
            out.push_str(&text[copied..]);
            out
        })
    }
}

impl Guards {
    /// `guardrails` (of one gateway, in their order) compiled, or the first one that cannot be
    /// with why.
    pub fn new(guardrails: &[Guardrail]) -> Result<Guards, (usize, String)> {
        let mut rules = Vec::with_capacity(guardrails.len());
        for (at, guardrail) in guardrails.iter().enumerate() {
            let finder = Finder::new(&guardrail.detector).map_err(|why| (at, why))?;
            rules.push(Rule {
                detector: guardrail.detector.clone(),
                finder,
                action: guardrail.action,
            });
        }
        let pass = |side: Side| {
            let rules: Vec<usize> = (0..guardrails.len())
                .filter(|&at| side.applies(&guardrails[at]) && !guardrails[at].detector.is_external())
                .collect();
            (!rules.is_empty()).then_some(Pass { rules })
        };
        let passes = [
            pass(Side::Request),
            pass(Side::Response),
            pass(Side::LoggedRequest),
            pass(Side::LoggedResponse),
        ];
        let moderations = (guardrails.iter())
            .filter_map(|rail| {
                let Detector::Moderation(endpoint) = &rail.detector else {
                    return None;
                };
                Some(Moderation {
                    endpoint: endpoint.clone(),
                    action: rail.action,
                    fail_closed: rail.fail_closed,
                })
            })
            .collect();
        Ok(Guards {
            rules,
            passes,
            moderations,
        })
    }

    fn pass(&self, side: Side) -> Option<&Pass> {
        let at = match side {
            Side::Request => 0,
            Side::Response => 1,
            Side::LoggedRequest => 2,
            Side::LoggedResponse => 3,
        };
        self.passes[at].as_ref()
    }

    /// Whether any guardrail reads `side`.
    pub fn reads(&self, side: Side) -> bool {
        self.pass(side).is_some()
    }

    /// Whether any `side` guardrail finds anything in `text` (to block, redact or flag).
    pub fn finds(&self, side: Side, text: &str) -> bool {
        let numbers = Numbers::new(text);
        (self.pass(side))
            .is_some_and(|pass| (pass.rules.iter()).any(|&rule| !self.rules[rule].finder.find_in(&numbers).is_empty()))
    }

    /// What the `side` guardrails find in `text`: each (rule, where), by where it starts.
    fn hits(&self, side: Side, text: &str) -> Vec<(usize, Range<usize>)> {
        let Some(pass) = self.pass(side) else {
            return Vec::new();
        };
        let (mut hits, numbers) = (Vec::new(), Numbers::new(text));
        for &rule in &pass.rules {
            hits.extend(
                self.rules[rule]
                    .finder
                    .find_in(&numbers)
                    .into_iter()
                    .map(|range| (rule, range)),
            );
        }
        hits.sort_by_key(|(_, range)| (range.start, usize::MAX - range.end));
        hits
    }

    /// `text` through the `side` guardrails: `Err` when one blocks it; else the text with
    /// placeholders where they redact (`None`: unchanged). Findings are noted in `found`, and
    /// placeholders kept in `vault`.
    pub fn scan(
        &self,
        side: Side,
        text: &str,
        vault: &mut Vault,
        found: &mut Found,
    ) -> Result<Option<String>, Blocked> {
        self.scan_until(side, text, text.len(), vault, found)
            .map(|(text, _)| text)
    }

    /// As [`Guards::scan`], over the whole of `text`, changing only what lies before `limit`:
    /// answers the text up to where it stopped (no match is cut) and that place. A stream
    /// releases the first part and keeps the rest for its next chunk.
    pub fn scan_until(
        &self,
        side: Side,
        text: &str,
        limit: usize,
        vault: &mut Vault,
        found: &mut Found,
    ) -> Result<(Option<String>, usize), Blocked> {
        let hits = self.hits(side, text);
        let mut cut = limit;
        // From the last match back, so a cut moved into an earlier match moves on before it.
        for (_, range) in hits.iter().rev() {
            if range.start < cut && cut < range.end {
                cut = range.start;
            }
        }
        // Blocks and flags first; the redactions' spans merged where they overlap, so no part
        // of a match is left out of a placeholder.
        let mut spans: Vec<(usize, Range<usize>)> = Vec::new();
        for (rule, range) in hits {
            let rule_ref = &self.rules[rule];
            let detector = rule_ref.detector.kind();
            if range.start >= cut {
                // Beyond the part released now: blocks and findings wait for the next scan,
                // which sees the whole match.
                continue;
            }
            found.note(side, detector, rule_ref.action);
            match rule_ref.action {
                GuardAction::Block => return Err(Blocked { detector, side }),
                GuardAction::Flag => {}
                GuardAction::Redact | GuardAction::Restore => match spans.last_mut() {
                    Some((_, last)) if range.start < last.end => last.end = last.end.max(range.end),
                    _ => spans.push((rule, range)),
                },
            }
        }
        let mut out = String::new();
        let mut copied = 0;
        for (rule, range) in spans {
            let rule_ref = &self.rules[rule];
            out.push_str(&text[copied..range.start]);
            let restore = rule_ref.action == GuardAction::Restore && side == Side::Request;
            out.push_str(vault.placeholder(&rule_ref.detector, &text[range.clone()], restore));
            copied = range.end;
        }
        if copied == 0 {
            return Ok((None, cut));
        }
        out.push_str(&text[copied..cut]);
        Ok((Some(out), cut))
    }

    /// What "try it" shows: `text` as a request would leave (request guardrails, the log's
    /// aside), and what they found.
    pub fn trial(&self, text: &str) -> GuardTrial {
        let (mut vault, mut found) = (Vault::default(), Found::default());
        match self.scan(Side::Request, text, &mut vault, &mut found) {
            Ok(changed) => GuardTrial {
                text: changed.unwrap_or_else(|| text.to_string()),
                blocked_by: None,
                findings: found_names(&found),
            },
            Err(blocked) => GuardTrial {
                text: String::new(),
                blocked_by: Some(blocked.detector.to_string()),
                findings: found_names(&found),
            },
        }
    }
}

fn found_names(found: &Found) -> Vec<String> {
    (found.iter())
        .map(|(_, detector, action)| format!("{detector}:{}", action.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{GatewayId, GuardDirection, GuardrailId};

    pub(crate) fn rail(detector: &str, action: GuardAction, direction: GuardDirection) -> Guardrail {
        Guardrail {
            id: GuardrailId(1),
            gateway_id: GatewayId(1),
            detector: Detector::parse(detector).unwrap(),
            action,
            direction,
            logs_only: false,
            fail_closed: false,
            created_at: 0,
        }
    }

    #[test]
    fn redacted_text_gets_typed_numbered_placeholders_and_restores_round_trip() {
        let guards = Guards::new(&[
            rail("email", GuardAction::Restore, GuardDirection::Request),
            rail("card", GuardAction::Redact, GuardDirection::Both),
        ])
        .unwrap();
        let (mut vault, mut found) = (Vault::default(), Found::default());
        let text = "mail ada@example.com, bob@example.org and ada@example.com; card 4111 1111 1111 1111";
        let sent = guards
            .scan(Side::Request, text, &mut vault, &mut found)
            .unwrap()
            .unwrap();
        assert_eq!(sent, "mail [EMAIL_1], [EMAIL_2] and [EMAIL_1]; card [CARD_1]");
        assert_eq!(found.log_text().unwrap(), "request:email:restore,request:card:redact");
        let answer = "Dear [EMAIL_1], I wrote to [EMAIL_2] about [CARD_1].";
        assert_eq!(
            vault.restore(answer).unwrap(),
            "Dear ada@example.com, I wrote to bob@example.org about [CARD_1].",
            "restored: the e-mails; the card was only redacted"
        );
    }

    #[test]
    fn a_block_names_the_detector_and_flags_change_nothing() {
        let guards = Guards::new(&[
            rail("ssn", GuardAction::Block, GuardDirection::Request),
            rail("ip", GuardAction::Flag, GuardDirection::Request),
        ])
        .unwrap();
        let (mut vault, mut found) = (Vault::default(), Found::default());
        let flagged = guards
            .scan(Side::Request, "from 10.0.0.1", &mut vault, &mut found)
            .unwrap();
        assert_eq!(flagged, None);
        assert_eq!(found.log_text().unwrap(), "request:ip:flag");
        let blocked = guards.scan(Side::Request, "my ssn is 123-45-6789", &mut vault, &mut found);
        assert_eq!(
            blocked,
            Err(Blocked {
                detector: "ssn",
                side: Side::Request
            })
        );
        assert!(guards
            .scan(Side::Response, "123-45-6789", &mut vault, &mut found)
            .unwrap()
            .is_none());
        let trial = guards.trial("ssn 123-45-6789");
        assert_eq!(trial.blocked_by.as_deref(), Some("ssn"));
        assert!(!trial.text.contains("6789"), "never echoed");
    }

    #[test]
    fn overlapping_matches_are_redacted_whole() {
        let guards = Guards::new(&[
            rail("words:project falcon", GuardAction::Redact, GuardDirection::Request),
            rail(r"regex:falcon-\d+", GuardAction::Redact, GuardDirection::Request),
        ])
        .unwrap();
        assert_eq!(guards.trial("see project falcon-7731 now").text, "see [WORD_1] now");
        let ip = Guards::new(&[rail("ip", GuardAction::Redact, GuardDirection::Request)]).unwrap();
        assert_eq!(ip.trial("from ::ffff:192.168.1.1 ok").text, "from [IP_1] ok");
    }

    #[test]
    fn words_are_found_in_any_case() {
        let guards = Guards::new(&[rail(
            "words:project falcon",
            GuardAction::Redact,
            GuardDirection::Request,
        )])
        .unwrap();
        let trial = guards.trial("about Project FALCON today");
        assert_eq!(trial.text, "about [WORD_1] today");
    }

    #[test]
    fn a_scan_up_to_a_limit_stops_before_a_match_it_would_cut() {
        let guards = Guards::new(&[rail("email", GuardAction::Redact, GuardDirection::Response)]).unwrap();
        let (mut vault, mut found) = (Vault::default(), Found::default());
        let text = "a@example.com then carol@example.com";
        let limit = text.find("carol").unwrap() + 3;
        let (out, cut) = guards
            .scan_until(Side::Response, text, limit, &mut vault, &mut found)
            .unwrap();
        assert_eq!(cut, text.find("carol").unwrap());
        assert_eq!(out.unwrap(), "[EMAIL_1] then ");
    }
}
