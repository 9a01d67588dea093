// Package gameday keeps a long-lived stack for a game day: `okbreak up`
// writes a Record so that other processes (`okbreak inject`, `status`,
// `revert`, `run --attach`, `down`) find the stack, and runs a Keeper that
// probes it, evaluates its alert rules, enforces every fault's deadline from
// the journal (so a fault ends on time even when the terminal that injected
// it is gone), halts the game day when a halt condition holds, and writes a
// Status file for `okbreak status`.
//
// Everything the processes share is a file in the run's state folder
// (stack.RunStateDir): the record (up.json), the status (status.json), the
// attach lock (attach.json) and the fault journal. Files are replaced by
// rename, so a reader sees a whole old or a whole new one; no process needs
// to reach another over the network.
package gameday
