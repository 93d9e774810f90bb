//! What the owner asks first, beyond the period's table: the agents side by side, the trend by
//! week and month against the span before, the pipeline at the period's end (with the moves
//! and the reasons for `lost`), and the non-responders. Read for `report --html`, `GET
//! /report` and `report --owner`.

use super::practice::{By, Practice};
use super::standing::Standing;
use super::trends::Trends;
use crate::config::Config;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use serde::Serialize;

/// The owner's sections of a period.
#[derive(Debug, Clone, Serialize)]
pub struct Owner {
    /// The period's figures per agent.
    pub agents: Practice,
    /// By week and by month, each beside the span before it.
    pub trends: Trends,
    /// The pipeline and the non-responders at the period's end.
    pub standing: Standing,
}

/// Reads the owner's sections of `from..=to`.
pub async fn read(store: &Store, config: &Config, from: NaiveDate, to: NaiveDate) -> Result<Owner, StoreError> {
    let years = config.report.relationship_years;
    Ok(Owner {
        agents: super::read::practice(store, By::Agent, from, to, years).await?,
        trends: super::trends::read(store, from, to, years).await?,
        standing: super::standing::read(store, &config.pipeline.stages, from, to, config.report.non_responder_touches).await?,
    })
}
