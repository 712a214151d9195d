//! One OpenAI chunk as a translating encoder reads it (its first choice: the text, the tool
//! calls' parts, the finish reason), however it came: a tree (guardrails or the cache read it),
//! an OpenAI-shaped upstream's own chunk (read once, borrowed and typed), or a translated
//! stream's step (issue #26). The Anthropic and Responses encoders write from it.

use crate::proxy::providers::{
    openai::Passed,
    step::{Delta, Step},
};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// What the encoder reads of one chunk (its first choice), however it came.
#[derive(Default, Deserialize)]
pub(crate) struct Piece<'a> {
    #[serde(borrow, default)]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) model: Option<Cow<'a, str>>,
    /// Read from the first choice.
    #[serde(skip)]
    pub(crate) text: Option<Cow<'a, str>>,
    #[serde(skip)]
    pub(crate) tools: Vec<ToolPiece<'a>>,
    #[serde(skip)]
    pub(crate) finish: Option<Cow<'a, str>>,
    /// Where an upstream's own chunk has them.
    #[serde(borrow, default)]
    choices: Vec<ChoiceView<'a>>,
}

/// One tool call's part of a chunk: a call with an id opens a block.
#[derive(Deserialize)]
pub(crate) struct ToolPiece<'a> {
    #[serde(borrow, default)]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<FunctionView<'a>>,
}

#[derive(Default, Deserialize)]
struct FunctionView<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(borrow, default)]
    delta: Option<DeltaView<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolPiece<'a>>>,
}

impl<'a> ToolPiece<'a> {
    fn new(id: Option<&'a str>, name: Option<&'a str>, arguments: &'a str) -> ToolPiece<'a> {
        ToolPiece {
            id: id.map(Cow::Borrowed),
            function: Some(FunctionView {
                name: name.map(Cow::Borrowed),
                arguments: Some(Cow::Borrowed(arguments)),
            }),
        }
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.function.as_ref().and_then(|f| f.name.as_deref())
    }

    pub(crate) fn arguments(&self) -> &str {
        (self.function.as_ref().and_then(|f| f.arguments.as_deref())).unwrap_or("")
    }
}

impl<'a> Piece<'a> {
    pub(crate) fn of_tree(chunk: &'a Value) -> Piece<'a> {
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        let tools = (delta["tool_calls"].as_array().into_iter().flatten())
            .map(|call| {
                ToolPiece::new(
                    call.get("id").and_then(Value::as_str),
                    call.pointer("/function/name").and_then(Value::as_str),
                    call.pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                )
            })
            .collect();
        let text = |value: &'a Value| value.as_str().map(Cow::Borrowed);
        Piece {
            id: text(&chunk["id"]),
            model: text(&chunk["model"]),
            text: text(&delta["content"]),
            tools,
            finish: text(&choice["finish_reason"]),
            choices: Vec::new(),
        }
    }

    /// An upstream's own chunk, read once (borrowed, typed); `None` if it cannot be read so.
    pub(crate) fn of_json(data: &'a str) -> Option<Piece<'a>> {
        let mut piece: Piece = serde_json::from_str(data).ok()?;
        if let Some(choice) = std::mem::take(&mut piece.choices).into_iter().next() {
            piece.finish = choice.finish_reason;
            if let Some(delta) = choice.delta {
                piece.text = delta.content;
                piece.tools = delta.tool_calls.unwrap_or_default();
            }
        }
        Some(piece)
    }

    pub(crate) fn of_step(step: &'a Step) -> Piece<'a> {
        let mut piece = Piece {
            id: Some(Cow::Borrowed(&step.head.id)),
            model: Some(Cow::Borrowed(&step.head.model)),
            finish: step.finish_reason.map(Cow::Borrowed),
            ..Piece::default()
        };
        match &step.delta {
            Delta::Role => piece.text = Some(Cow::Borrowed("")),
            Delta::Content(text) => piece.text = Some(Cow::Borrowed(text)),
            Delta::ToolStart { id, name, .. } => piece.tools.push(ToolPiece::new(id.as_deref(), name.as_deref(), "")),
            Delta::ToolArguments { arguments, .. } => piece.tools.push(ToolPiece::new(None, None, arguments)),
            Delta::Empty => {}
        }
        piece
    }
}

/// An encoder that writes its client's events from pieces: given the one way, it has all three
/// ways in.
pub(crate) trait FromPieces {
    /// The events for one piece.
    fn piece(&mut self, piece: &Piece<'_>) -> String;

    /// The events for one OpenAI chunk, as a tree.
    fn chunk(&mut self, chunk: &Value) -> String {
        self.piece(&Piece::of_tree(chunk))
    }

    /// The events for one step of a translated stream.
    fn step(&mut self, step: &Step) -> String {
        self.piece(&Piece::of_step(step))
    }

    /// The events for an OpenAI-shaped upstream's own chunk.
    fn passed(&mut self, passed: &Passed) -> String {
        match Piece::of_json(passed.json()) {
            Some(piece) => self.piece(&piece),
            // The decoder read it as JSON already: only a shape serde cannot borrow is left.
            None => self.chunk(&passed.tree()),
        }
    }
}
