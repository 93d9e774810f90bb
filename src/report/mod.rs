//! The practice's numbers, computed from recorded facts: deliveries, opt-outs, responses,
//! deals, stage changes and costs. Pure: the facts come from `store`.

pub mod customers;
pub mod format;
pub mod html;
pub mod owner;
pub mod practice;
pub mod read;
pub mod standing;
pub mod trends;
