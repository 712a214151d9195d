//! The Prompts page's server side: its forms read into the management service's inputs (the
//! gateways picked, the template editor's state), a line diff between two versions as the
//! CLI's YAML shows them, and each version's figures over a range.
//!
//! Does not: check a template, a name or a label; the management service does, naming the
//! field it refuses.

use super::{backend::actor, composites::own_cache, Console};
use crate::manage::{now_ms, ManageError};
use app::types::{
    AdminUser, ConsoleError, DashboardRange, DiffLine, GatewayId, LineChange, NewPrompt, NewPromptForm, OwnCacheForm,
    Prompt, PromptId, PromptTemplate, TemplateForm, VersionStats,
};
use similar::{ChangeTag, TextDiff};

/// The picked gateways' ids, comma-separated (empty: every gateway).
fn gateway_ids(text: &str) -> Result<Vec<GatewayId>, ConsoleError> {
    (text.split(',').map(str::trim))
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse().map(GatewayId).map_err(|_| {
                ConsoleError::invalid("gateways", format!("“{id}” is not a gateway; pick them from the list."))
            })
        })
        .collect()
}

/// The template editor's state (JSON of a [`TemplateForm`]) as a template.
fn template(text: &str) -> Result<PromptTemplate, ConsoleError> {
    let form: TemplateForm = serde_json::from_str(text).map_err(|_| {
        ConsoleError::invalid(
            "template",
            "The template editor's state could not be read; reload the page.",
        )
    })?;
    form.read()
}

/// A template as the CLI's YAML file shows it, for diffs.
fn yaml(template: &PromptTemplate) -> Result<String, ManageError> {
    yaml_serde::to_string(template).map_err(|error| ManageError::internal(error.to_string()))
}

/// The line diff from `old` to `new`.
fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    (TextDiff::from_lines(old, new).iter_all_changes())
        .map(|change| DiffLine {
            change: match change.tag() {
                ChangeTag::Equal => LineChange::Same,
                ChangeTag::Insert => LineChange::Added,
                ChangeTag::Delete => LineChange::Removed,
            },
            text: change.value().trim_end_matches(['\n', '\r']).to_string(),
        })
        .collect()
}

impl Console {
    /// Creates a prompt from the Prompts page's form (or the playground's "save as prompt"), as
    /// `admin`.
    pub(super) async fn add_prompt(&self, admin: &AdminUser, form: NewPromptForm) -> Result<Prompt, ConsoleError> {
        let new = NewPrompt {
            name: form.name,
            description: form.description,
            gateways: gateway_ids(&form.gateways)?,
            template: template(&form.template)?,
        };
        Ok(self.manage.create_prompt(&actor(admin), new).await?)
    }

    /// Adds the next version of prompt `id` from the editor's state, as `admin`; the prompt
    /// with it.
    pub(super) async fn add_version(
        &self,
        admin: &AdminUser,
        id: PromptId,
        text: &str,
    ) -> Result<Prompt, ConsoleError> {
        let template = template(text)?;
        self.manage.add_prompt_version(&actor(admin), id, template).await?;
        Ok(self.manage.prompt(id).await?)
    }

    /// Sets prompt `id`'s own response cache from its form, as `admin` (a blank mode: the
    /// gateway's).
    pub(super) async fn prompt_cache(
        &self,
        admin: &AdminUser,
        id: PromptId,
        form: &OwnCacheForm,
    ) -> Result<Prompt, ManageError> {
        let cache = own_cache(form)?;
        self.manage.set_prompt_cache(&actor(admin), id, cache).await
    }

    /// The line diff from version `from` to version `to` of prompt `id`.
    pub(super) async fn version_diff(&self, id: PromptId, from: i64, to: i64) -> Result<Vec<DiffLine>, ManageError> {
        let prompt = self.manage.prompt(id).await?;
        let text = |number: i64, field: &'static str| {
            let version = (prompt.versions.iter()).find(|version| version.version == number);
            let version = version
                .ok_or_else(|| ManageError::invalid(field, format!("{} has no version {number}", prompt.name)))?;
            yaml(&version.template)
        };
        Ok(diff(&text(from, "from")?, &text(to, "to")?))
    }

    /// How each version of prompt `id` did over `range`, up to now.
    pub(super) async fn version_figures(
        &self,
        id: PromptId,
        range: DashboardRange,
    ) -> Result<Vec<VersionStats>, ManageError> {
        let prompt = self.manage.prompt(id).await?;
        let to = now_ms();
        let from = to - range.step_ms() * range.buckets();
        self.manage.version_stats(&prompt, from, to).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{ParameterForm, ParameterType, TemplateMessage};

    #[test]
    fn the_gateways_picked_are_read_as_ids_and_anything_else_is_refused_under_the_picker() {
        assert_eq!(gateway_ids(" 1, 3,").unwrap(), [GatewayId(1), GatewayId(3)]);
        assert!(gateway_ids("").unwrap().is_empty(), "none picked: every gateway");
        assert_eq!(gateway_ids("1, main").unwrap_err().field, "gateways");
    }

    #[test]
    fn the_editors_state_is_read_into_a_template_and_unreadable_state_is_the_templates_error() {
        let form = TemplateForm {
            messages: vec![TemplateMessage {
                role: "user".into(),
                content: "Hello {{ who }}".into(),
            }],
            parameters: vec![ParameterForm {
                name: "who".into(),
                kind: ParameterType::String,
                required: true,
                default: String::new(),
                description: String::new(),
            }],
            ..TemplateForm::default()
        };
        let read = template(&serde_json::to_string(&form).unwrap()).unwrap();
        assert_eq!(read.messages[0].content, "Hello {{ who }}");
        assert!(read.parameters["who"].required);
        assert_eq!(template("{").unwrap_err().field, "template");
    }

    #[test]
    fn a_diff_marks_the_lines_a_version_changed_in_the_clis_yaml() {
        let version = |content: &str| PromptTemplate {
            messages: vec![
                TemplateMessage {
                    role: "system".into(),
                    content: "Be brief.".into(),
                },
                TemplateMessage {
                    role: "user".into(),
                    content: content.into(),
                },
            ],
            ..PromptTemplate::default()
        };
        let old = yaml(&version("Say hello to {{ who }}.")).unwrap();
        let new = yaml(&version("Say goodbye to {{ who }}.")).unwrap();
        let lines = diff(&old, &new);
        let changed: Vec<(LineChange, &str)> = (lines.iter())
            .filter(|line| line.change != LineChange::Same)
            .map(|line| (line.change, line.text.as_str()))
            .collect();
        assert_eq!(
            changed,
            [
                (LineChange::Removed, "  content: Say hello to {{ who }}."),
                (LineChange::Added, "  content: Say goodbye to {{ who }}."),
            ],
            "{old}"
        );
        assert!(lines
            .iter()
            .any(|line| line.text.contains("Be brief.") && line.change == LineChange::Same));
    }
}
