//! End-to-end tests of the scripts under `scripts/`, against real processes.
//! They need the workspace's tools built (`cargo build --workspace`).

mod aoe_init;
mod demo;
mod lsb_service;
mod start_stack;
