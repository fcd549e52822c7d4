// Package snapshots guards and tidies the public snapshot directory
// (PUBLIC_DIR, SPEC 3.1): Lock gives one run at a time the right to publish,
// across processes and hosts that share the directory, and Prune removes old
// snapshot directories while never touching the one latest.json points to.
//
// The lock is flock(2) on PUBLIC_DIR/.refrecon.lock. The kernel releases it
// when the holder's process ends, however it ends, so there are no stale
// locks to clean up by hand. The file also records who holds the lock (pid,
// host, command, start time) so that a refused run can say whom it waited
// for. flock is advisory, and on network or FUSE filesystems (NFS mounted
// with nolock, object-storage mounts) it may exclude only processes on the
// same machine: where PUBLIC_DIR lives on such a mount, let the orchestrator
// forbid overlapping runs as well (deploy/README.md).
package snapshots
