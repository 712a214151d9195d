//! How the resource subcommands print: aligned text tables, and pretty JSON for `--json`.

use crate::store::now_ms;
use app::types::{GatewayKey, InferenceEndpoint};

/// Rows as an aligned text table.
pub(super) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

pub(super) fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn optional(value: &Option<impl ToString>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), ToString::to_string)
}

pub(super) fn endpoints_table(endpoints: &[InferenceEndpoint]) -> String {
    table(
        &["NAME", "PROVIDER", "MODEL", "URL", "KEY", "ENABLED"],
        endpoints
            .iter()
            .map(|e| {
                vec![
                    e.name.clone(),
                    e.provider.as_str().into(),
                    e.model.clone(),
                    e.base_url.clone(),
                    if e.has_credential { "set" } else { "-" }.into(),
                    e.enabled.to_string(),
                ]
            })
            .collect(),
    )
}

pub(super) fn keys_table(keys: &[GatewayKey]) -> String {
    table(
        &["ID", "NAME", "KEY", "PARENT", "STATE", "LIMITS"],
        keys.iter()
            .map(|k| {
                let parent = k
                    .parent_id
                    .and_then(|p| keys.iter().find(|o| o.id == p))
                    .map(|p| p.public_id.clone());
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else if k.grace_until.is_some_and(|at| at <= now_ms()) {
                    "rotated"
                } else if k.grace_until.is_some() {
                    "rotating"
                } else if k.enabled {
                    "active"
                } else {
                    "disabled"
                };
                vec![
                    k.public_id.clone(),
                    k.name.clone(),
                    k.masked.clone(),
                    optional(&parent),
                    state.into(),
                    k.limits
                        .iter()
                        .map(app::types::Limit::spelled)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let text = table(
            &["A", "LONGER"],
            vec![vec!["wide cell".into(), "x".into()], vec!["y".into(), "z".into()]],
        );
        assert_eq!(text, "A          LONGER\nwide cell  x\ny          z");
    }
}
