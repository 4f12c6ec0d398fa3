//! The wxauth server: configuration, telemetry, the composition root that wires the database,
//! WeChat and token adapters into the use cases and the HTTP layer, and the command line.

pub mod application;
pub mod cli;
pub mod commands;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod housekeeping;
pub mod listener;
pub mod telemetry;
pub mod wechat;
