//! A raw AF_PACKET link (in progress).
