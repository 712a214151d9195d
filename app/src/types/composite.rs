//! Composite models: one model name of a gateway that stands for several (issue #21) — split
//! between members (`load`), an A/B test (`ab`), asked of all at once (`multi`), or the best
//! answer by a judge (`best`).

use super::{CacheSettings, Change, GatewayId, OwnCacheForm, RequestFigures};
use serde::{Deserialize, Serialize};

/// Identifies a composite model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CompositeId(pub i64);

/// What a composite model does with its members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum CompositeKind {
    /// One member answers, picked by weight (sticky per end user when asked); the others are
    /// its failover.
    Load,
    /// One member answers, picked by ratio and always sticky per end user; the answer names
    /// its category (`x-mgw-variant`).
    Ab,
    /// Every member answers the same request.
    Multi,
    /// Every member answers; a judge picks the best answer.
    Best,
}

impl CompositeKind {
    /// Every kind.
    pub const ALL: [CompositeKind; 4] = [
        CompositeKind::Load,
        CompositeKind::Ab,
        CompositeKind::Multi,
        CompositeKind::Best,
    ];

    /// The kind's name as stored, typed and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CompositeKind::Load => "load",
            CompositeKind::Ab => "ab",
            CompositeKind::Multi => "multi",
            CompositeKind::Best => "best",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// What the console calls it: its name and what it does, in a few words.
    pub fn label(self) -> &'static str {
        match self {
            CompositeKind::Load => "Load: one member answers, by weight",
            CompositeKind::Ab => "A/B test: one member by ratio, sticky per user",
            CompositeKind::Multi => "Multi: every member answers",
            CompositeKind::Best => "Best: a judge picks the best answer",
        }
    }
}

/// How a `multi` composite answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum MultiMode {
    /// One object keyed by member name, each an answer or an error.
    #[default]
    #[serde(rename = "waitforall")]
    WaitForAll,
    /// The first successful answer; the others are cancelled.
    First,
}

impl MultiMode {
    /// Every mode.
    pub const ALL: [MultiMode; 2] = [MultiMode::WaitForAll, MultiMode::First];

    /// The mode's name as stored, typed and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            MultiMode::WaitForAll => "waitforall",
            MultiMode::First => "first",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == name)
    }
}

/// One member of a composite model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "CompositeMemberInput"))]
pub struct CompositeMember {
    /// What the member is called in the answer (`x-mgw-variant`), the log and the breakdowns:
    /// an `ab` category, else the reference itself.
    pub category: String,
    /// An endpoint of the gateway (by name), a model the gateway serves, or another composite
    /// model of the gateway.
    pub target: String,
    /// Its ratio (`ab`: the members' ratios sum to 1) or weight (`load`); 1 for the others.
    pub share: f64,
}

impl CompositeMember {
    /// The member in the CLI's notation, `[category:]target[=share]`, leaving out a category
    /// that is the target's own name and a share of 1 (as the console's form shows it).
    pub fn spelled(&self) -> String {
        let mut text = String::new();
        if !self.category.is_empty() && self.category != self.target {
            text.push_str(&self.category);
            text.push(':');
        }
        text.push_str(&self.target);
        if self.share != 1.0 {
            text.push_str(&format!("={}", self.share));
        }
        text
    }
}

/// A composite model as listed and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompositeModel {
    pub id: CompositeId,
    /// The gateway whose clients send its name as `model`.
    pub gateway_id: GatewayId,
    /// Unique within its gateway.
    pub name: String,
    pub kind: CompositeKind,
    /// In the order given.
    pub members: Vec<CompositeMember>,
    /// `load`: the same end user keeps the same member while it is healthy (`ab` always is).
    pub sticky: bool,
    /// `multi`: how it answers.
    pub mode: MultiMode,
    /// `best`: the reference that judges (as a member's target).
    pub judge: Option<String>,
    /// `best`: the judge's instructions; `None` for the default rubric.
    pub rubric: Option<String>,
    /// Its own response cache, used instead of its gateway's for requests naming it (`load`
    /// and `ab` only); `None`: its gateway's.
    #[serde(default)]
    pub cache: Option<CacheSettings>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

// Declared once: GraphQL's `createComposite`, and `composite add` give the management service
// this. GraphQL names the gateway by global id, so its input adds a field and fills
// `gateway_id` from it.
/// A new composite model.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "NewComposite"))]
pub struct NewComposite {
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub gateway_id: GatewayId,
    pub name: String,
    pub kind: CompositeKind,
    pub members: Vec<CompositeMember>,
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub sticky: bool,
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub mode: MultiMode,
    pub judge: Option<String>,
    pub rubric: Option<String>,
    /// Its own response cache (`load` and `ab` only); none: its gateway's.
    pub cache: Option<CacheSettings>,
}

/// Changes to a composite model; omitted fields stay as they are (its gateway and kind stay).
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "UpdateCompositeInput"))]
pub struct CompositeUpdate {
    pub name: Option<String>,
    /// Replaces every member.
    pub members: Option<Vec<CompositeMember>>,
    pub sticky: Option<bool>,
    pub mode: Option<MultiMode>,
    /// `null` removes the judge (refused for `best`).
    pub judge: Change<String>,
    /// `null` goes back to the default rubric.
    pub rubric: Change<String>,
    /// Its own response cache; `null` goes back to its gateway's.
    pub cache: Change<CacheSettings>,
}

/// The console's composite form, as typed: the server reads its members (the CLI's notation,
/// one a line) into a [`NewComposite`] or a [`CompositeUpdate`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompositeForm {
    pub name: String,
    /// `[category:]target[=share]`, one a line (commas separate too).
    pub members: String,
    /// `load`: sticky per end user.
    pub sticky: bool,
    /// `multi`: how it answers.
    pub mode: MultiMode,
    /// `best`: the reference that judges; blank for none.
    pub judge: String,
    /// `best`: the judge's instructions; blank for the default rubric.
    pub rubric: String,
    /// `load` and `ab`: its own response cache.
    pub cache: OwnCacheForm,
}

/// One variant of a composite model over a time range: how it did, and what users thought.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct VariantStats {
    /// The member's category (`x-mgw-variant`).
    pub variant: String,
    #[serde(flatten)]
    #[cfg_attr(feature = "ssr", graphql(flatten))]
    pub figures: RequestFigures,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_modes_round_trip_through_their_names() {
        for kind in CompositeKind::ALL {
            assert_eq!(CompositeKind::parse(kind.as_str()), Some(kind));
        }
        for mode in MultiMode::ALL {
            assert_eq!(MultiMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(CompositeKind::parse("fastest"), None);
    }

    #[test]
    fn kinds_and_modes_travel_as_their_names() {
        for kind in CompositeKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for mode in MultiMode::ALL {
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
        }
    }

    #[test]
    fn a_member_is_spelled_in_the_cli_notation_without_what_goes_without_saying() {
        let member = |category: &str, target: &str, share: f64| CompositeMember {
            category: category.into(),
            target: target.into(),
            share,
        };
        assert_eq!(member("a", "gpt-4o", 0.8).spelled(), "a:gpt-4o=0.8");
        assert_eq!(member("gpt-4o", "gpt-4o", 1.0).spelled(), "gpt-4o");
        assert_eq!(member("", "llama3", 2.0).spelled(), "llama3=2");
    }
}
