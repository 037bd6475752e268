//! Least privilege, TLS, faults and hostile input, against real servers.
