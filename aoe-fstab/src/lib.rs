//! aoe-fstab: read an fstab-format file as util-linux does, and mount,
//! unmount, list or check its entries. See README.md.

pub mod cli;
pub mod command;
pub mod devwait;
pub mod fstab;
pub mod mounts;
pub mod source;

mod actions;

pub use actions::run;
