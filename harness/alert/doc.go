// Package alert evaluates the team's own Prometheus alert rules against the
// real metrics of a stack, one case at a time.
//
// A Session owns a fresh embedded Prometheus TSDB, a Scraper that scrapes
// every component (and the container state the harness exports itself, like
// kube-state-metrics), and Prometheus's own rule manager. It records every
// alert's transitions (inactive, pending, firing, resolved) with their
// evaluation timestamps, so that a verdict can say when an alert fired and
// how long detection took.
//
// Long production durations are compressed by a time scale: rule files are
// rewritten through the PromQL syntax tree (ScaleRules), and the scrape
// interval, evaluation interval and lookback shrink by the same factor
// (TimingFor). Rules may read component metrics and container state only;
// Lint rejects rules that read the harness's knowledge of the fault.
//
// Times. Samples are stamped when their exposition was read, so a value is
// never older than its timestamp, and transitions carry the rule manager's
// evaluation timestamps: an alert raised by a fault's effect always fires
// after the fault's wall-clock injection time, and Timeline times compare
// directly with injection and revert times. Scrape timeouts are not
// compressed below MinScrapeTimeout: a timeout says the machine was too
// busy to measure (TargetHealth.Timeouts), which makes a case invalid, not
// failed.
//
// Conventions the rule files rely on (fixtures/alerts): a component's scrape
// target has job = JobFor(component) ("backend" for backend-1..3, "other",
// "edge", "control-plane", "etcd", "toxiproxy") and instance = the component
// name; the container-state exporter is job ContainerJob and labels its
// series with component.
package alert
