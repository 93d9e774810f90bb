//! The practice's numbers, computed from recorded facts (deals today; deliveries, opt-outs,
//! responses, stage changes and costs as the report grows). Pure: the facts come from `store`.

pub mod customers;
