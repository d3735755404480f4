//! pcap recording around a link, and replay as a link (in progress).
