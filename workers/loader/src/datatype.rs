//! The loader's data types, parsed from `TYPE`: the vocabulary lives in the contract crate
//! (`streamforge_api::datatype`); this module names it where the loader looks for it.

pub use streamforge_api::datatype::{DataKind, INTERVALS, Interval, TypeError};
