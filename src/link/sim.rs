//! Simulated links on virtual time (in progress).
