"""What isolates a run from the host: the TUN device and packet socket in a fresh network
namespace (``tun.py``), rtnetlink, the addresses, the user namespace of rootless runs and the
process-level primitives (unshare, mounts, shell commands, the session guardian)."""
