//! The pipeline a lead moves through (`[pipeline] stages`, by default `new, contacted,
//! interested, proposal, signed, client, lost`) and its rules: a stage is named as configured
//! (any case; a near miss gets a did-you-mean), `lost` needs a reason, a response moves a `new`
//! contact to `contacted`, a deal moves any contact to `client`. A contact's stage is its
//! `status` field; a contact without one is `new`.

use super::Contact;

/// The stage a contact is in before anything moved it.
pub const FIRST: &str = "new";

/// The configured stages, in order.
#[derive(Debug, Clone)]
pub struct Pipeline<'a> {
    stages: &'a [String],
}

impl<'a> Pipeline<'a> {
    /// The pipeline of `stages` (validated by the config loader).
    pub fn new(stages: &'a [String]) -> Self {
        Pipeline { stages }
    }

    /// The stage someone named (`Interested` → `interested`), or what is wrong with the name.
    pub fn resolve(&self, name: &str) -> Result<String, String> {
        let wanted = name.trim().to_lowercase();
        if let Some(s) = self.stages.iter().find(|s| **s == wanted) {
            return Ok(s.clone());
        }
        let nearest = self
            .stages
            .iter()
            .map(|s| (strsim::levenshtein(&wanted, s), s))
            .min()
            .filter(|(d, s)| *d <= 2.max(s.len() / 3));
        Err(match nearest {
            Some((_, s)) => format!("no stage {name:?}; did you mean {s:?}?"),
            None => format!("no stage {name:?} (stages: {})", self.stages.join(", ")),
        })
    }

    /// True when a move to `stage` must say why (`lost`).
    pub fn needs_reason(stage: &str) -> bool {
        stage == "lost"
    }

    /// The stage `contact` is in.
    pub fn stage_of(contact: &Contact) -> &str {
        contact.get("status").unwrap_or(FIRST)
    }

    /// Where a response moves the contact: `new` → `contacted` (when both stages exist).
    pub fn after_response(&self, contact: &Contact) -> Option<String> {
        (Self::stage_of(contact) == FIRST && self.has("contacted")).then(|| "contacted".to_string())
    }

    /// Where a deal moves the contact: `client` (when that stage exists).
    pub fn after_deal(&self, contact: &Contact) -> Option<String> {
        (Self::stage_of(contact) != "client" && self.has("client")).then(|| "client".to_string())
    }

    fn has(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(status: Option<&str>) -> Contact {
        let mut fields = std::collections::BTreeMap::new();
        if let Some(s) = status {
            fields.insert("status".to_string(), s.to_string());
        }
        Contact {
            id: super::super::ContactId("c".into()),
            fields,
            plan_history: vec![],
            responded_on: None,
            former: vec![],
        }
    }

    fn default_stages() -> Vec<String> {
        crate::config::PipelineConfig::default().stages
    }

    #[test]
    fn names_resolve_in_any_case_with_a_did_you_mean() {
        let stages = default_stages();
        let p = Pipeline::new(&stages);
        assert_eq!(p.resolve(" Interested ").unwrap(), "interested");
        assert!(p.resolve("intrested").unwrap_err().contains("did you mean \"interested\""));
        assert!(p.resolve("prospect").unwrap_err().contains("stages: new, contacted"));
        assert!(Pipeline::needs_reason("lost") && !Pipeline::needs_reason("client"));
    }

    #[test]
    fn responses_and_deals_move_the_stage() {
        let stages = default_stages();
        let p = Pipeline::new(&stages);
        assert_eq!(p.after_response(&contact(None)).as_deref(), Some("contacted"));
        assert_eq!(p.after_response(&contact(Some("new"))).as_deref(), Some("contacted"));
        assert_eq!(p.after_response(&contact(Some("proposal"))), None, "a response never moves back");
        assert_eq!(p.after_deal(&contact(Some("proposal"))).as_deref(), Some("client"));
        assert_eq!(p.after_deal(&contact(Some("client"))), None);
        let custom = vec!["new".to_string(), "won".to_string()];
        assert_eq!(
            Pipeline::new(&custom).after_deal(&contact(None)),
            None,
            "no client stage configured"
        );
    }
}
