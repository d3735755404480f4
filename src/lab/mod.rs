//! The lab: network namespaces on one host as test servers and clients (in progress).
