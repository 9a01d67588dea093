// Package catalog reads okbreak's catalog (fixtures/catalog.yaml): the cases
// that say what is ok to break and what is not, each with its fault, its
// class, its expectations and why. It parses strictly, validates against the
// fault types, the stack's names and the alert rules, and computes each
// case's time scale.
//
// # Format
//
//	version: 1
//	defaults:                      # the harness's defaults; all optional
//	  probe: {rate: 100/s}
//	  slo: {success: 99%, p99: 1s}
//	  grace: 2s                    # real time
//	  min_window: 5s               # real time
//	  min_samples: 500
//	  recovery: 30s                # real time
//	  page_label: {severity: page}
//	  prometheus: {scrape_interval: 15s, evaluation_interval: 15s, lookback_delta: 5m}
//	  min_scrape_interval: 250ms   # real time
//	  min_scrape_points: 4
//	cases:
//	  - name: etcd-down-2h
//	    class: not-ok              # or ok-to-break
//	    why: one line
//	    fault: {type: stop, target: etcd, params: {...}}
//	    duration: 2h               # world time
//	    mechanism: {what: outlier detection's base ejection, timer: 30s}
//	    expect:
//	      alerts: [EtcdDownTooLong]          # all must fire; or {any_of: [A, B]}
//	      detection: 1h                      # not-ok; default: the duration
//	      slo: {success: 99.9%}              # ok-to-break; only stricter
//	      recovery: 90s                      # real time
//	    requires: [envoy]
//	    provenance: {date: 2018-11-11, summary: ..., link: https://...}
//
// A fault's target is one name, a list of names, or a glob over the stack's
// names ("edge->backend-*", matched with path.Match); Validate expands globs
// into Fault.Targets, in the order written, without repeats. Durations use Go
// syntax (250ms, 5m, 2h); percentages are "99%" or 0.99. YAML anchors,
// aliases and merge keys are rejected: they would make an error's position
// point away from the value at fault.
//
// # Errors
//
// Every problem is an *Error with file:line:column and, where one helps, a
// hint; Parse and Validate collect all of them, sorted by position, in an
// Errors. Parse checks everything that needs only the file: unknown and
// duplicate fields, bad durations, percentages and names, a not-ok case
// without alerts, an ok-to-break case expecting alerts, an SLO override
// looser than the defaults, a detection window longer than the fault, a
// recovery window outside [shortest window, max(default, shortest window)],
// and windows too short even unscaled. Validate checks the rest against a
// FaultChecker (unknown fault types and targets, bad parameters) and an
// AlertIndex (alerts no rule file defines, alerts not labelled as paging,
// alerts whose `for:` is not shorter than the detection window).
//
// # Time scale
//
// A catalog speaks in world time: "etcd down for 2h", an alert rule's
// `for: 1h`, a Prometheus that scrapes every 15s. A run at scale s divides
// every world duration of a case by s: the fault's duration, the detection
// window, the alert rules' `for:` and range selectors (through
// Plan.Compress), the scrape and evaluation intervals and the lookback. All
// of them are divided by the same s, so their ratios hold: an alert that
// needs an hour of a two-hour outage still needs half of the compressed one.
//
// Real time is never scaled: the grace period, the shortest window, the
// recovery window, every timer of the system under test (timeouts, outlier
// ejection, reconnect and restart backoffs) and every fault parameter (a
// toxic's 2s latency). The recovery window is real time because what it
// waits for, after revert, runs on those real timers. Because these do not
// shrink, the scale is capped per case, never floored per window (flooring
// one window would break its ratio to the others). The effective scale is
// the largest s ≤ the requested one such that, with W the case's shortest
// window (the larger of the default shortest window, the time the probe
// needs for its minimum samples, and 3 × the mechanism's real timer):
//
//   - ok-to-break: the fault window after the grace period,
//     duration/s − grace, is at least W, and spans at least MinScrapePoints
//     scaled scrape and evaluation intervals;
//   - not-ok: the detection window, detection/s, is at least W (it spans
//     MinScrapePoints intervals at any scale, which Parse checks);
//   - the scaled scrape and evaluation intervals stay at or above
//     MinScrapeInterval.
//
// The recovery window is at least W too: by default it is the larger of the
// default recovery and W. Scaled durations are rounded up to the millisecond
// (Prometheus's resolution), which keeps every "at least" true.
package catalog
