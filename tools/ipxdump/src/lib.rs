//! The library half of `ipxdump`: filter expressions, output formats and statistics, kept apart
//! from the command line so tests and fuzz targets can reach them.

pub mod filter;
pub mod timefmt;
