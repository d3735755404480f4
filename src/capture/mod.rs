//! pcap and pcapng files (in progress).
