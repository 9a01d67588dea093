// Package incident reads incident files: a past outage kept as a
// regression test. An incident names where it came from (provenance), the
// case or cases that reproduce it (in the catalog's schema, or a catalog
// case by name), and, when the outage was a configuration of the day, that
// configuration (`before`) and its remediation (`after`) as overlays on the
// stack file, written in the stack file's own format and merged by
// Compose's rules; `expect_before` names the failure the incident had,
// precisely enough that any other failure does not count as reproducing
// it, and `changes`, optionally, the data plane's configuration fields the
// two differ in.
//
// The package parses and checks; it runs nothing. Reproduced judges a
// recorded result against expect_before as a pure function.
package incident

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stackfile"
)

// Incident is one incident file, read and checked. It is plain data, not
// changed after Parse returns it.
type Incident struct {
	// Name is the file's base name without .yaml; tests and the CLI call
	// the incident by it.
	Name string
	// Path is the file as given to Load or Parse.
	Path  string
	Title string
	Date  time.Time
	// Provenance says where the incident and its lesson came from.
	Provenance Provenance
	// Requires lists the data planes the incident needs ("envoy" or
	// "grpc"); on another it is skipped with the reason.
	Requires []string
	// Case names a case of the catalog the incident runs with; Cases are
	// cases written in the incident, in the catalog's schema. One of the
	// two is set.
	Case  string
	Cases []catalog.Case
	// Before and After are the configuration of the day and the remediated
	// one, as overlays on the stack file; both nil when the incident is a
	// case alone.
	Before, After *Overlay
	// ExpectBefore is the failure `before` must show; set exactly when
	// Before is.
	ExpectBefore *Expectation
	// Changes, optional and only with Before and After, names every field
	// of the data plane's configuration that before and after differ in,
	// so that a reader sees what the fix changed and a test can hold the
	// overlays to it. One item a place, in the order written:
	//
	//	TYPE NAME              a resource only one configuration has
	//	TYPE NAME: FIELD.PATH  a field the two hold differently
	//
	// TYPE is an xDS resource type (listener, route, cluster, endpoint),
	// NAME the resource's name, FIELD.PATH its proto field names (as
	// protojson writes them with UseProtoNames) joined by dots, with [0]
	// indexing a list and ["key"] a map; an Any's content sits under the
	// Any's field (typed_config.use_remote_address). A difference is named
	// where it starts: a field set on one side only, or a list of another
	// length, is named whole. For example:
	//
	//	changes:
	//	  - "cluster backend: health_checks"
	//	  - "listener ingress_http: filter_chains[0].filters[0].typed_config.use_remote_address"
	//
	// Parse checks the syntax; the sample system's test
	// (sample.TestEnvoyIncidentChanges) computes the list from the control
	// plane's translation of each configuration (translate.Diff) and
	// requires it to be exactly this one.
	Changes []string
}

// Provenance is where an incident comes from: what broke, how it was seen,
// what fixed it, and where the lesson was learnt.
type Provenance struct {
	Summary     string
	Link        string
	Broke       string
	Detected    string
	Remediation string
	// Source says where the lesson came from (a post-mortem, an upstream
	// report, a talk).
	Source string
}

// Variant names one of an incident's two configurations.
type Variant string

// The two configurations of an incident.
const (
	Before Variant = "before"
	After  Variant = "after"
)

// Overlay is one configuration as written in the incident file.
type Overlay struct {
	// Line is where its value starts in the file.
	Line int
	// data is the incident file with every line outside the overlay
	// blanked, so that the stack file's errors point into the incident
	// file at the right line and column.
	data  []byte
	value any // decoded, to compare before with after
}

// ExpectKind names how `before` must fail.
type ExpectKind string

// The failures an incident can name.
const (
	// SLOBreached: an ok-to-break case's SLO broke in the named window.
	SLOBreached ExpectKind = "slo_breached"
	// AlertNotFired: a not-ok case's expected alert did not fire within
	// its detection window.
	AlertNotFired ExpectKind = "alert_not_fired"
	// PageFired: an ok-to-break case paged with the named alert.
	PageFired ExpectKind = "page_fired"
)

// Windows an SLO can break in.
const (
	WindowDuring = "during"
	WindowAfter  = "after"
)

// Expectation is the failure the incident had.
type Expectation struct {
	Kind ExpectKind
	// Window is "during" or "after" (SLOBreached).
	Window string
	// Alert is the alert that did not fire (AlertNotFired) or that paged
	// (PageFired).
	Alert string
}

// String says the expectation as a person would.
func (e Expectation) String() string {
	switch e.Kind {
	case SLOBreached:
		return "the SLO breached " + e.Window + " the fault"
	case AlertNotFired:
		return "alert " + e.Alert + " did not fire"
	case PageFired:
		return "page " + e.Alert + " fired"
	}
	return string(e.Kind)
}

// HasVariants tells whether the incident runs twice, before and after.
func (in *Incident) HasVariants() bool { return in.Before != nil }

// Identical tells whether before and after are the same configuration: an
// incident scaffolded and not yet written, which tests skip as to do.
func (in *Incident) Identical() bool {
	return in.Before != nil && reflect.DeepEqual(in.Before.value, in.After.value)
}

// Overlay returns the named configuration as a stack-file overlay, its
// positions the incident file's own.
func (in *Incident) Overlay(v Variant) (stackfile.Overlay, error) {
	o := in.Before
	if v == After {
		o = in.After
	}
	if o == nil {
		return stackfile.Overlay{}, fmt.Errorf("incident %s has no %s configuration", in.Name, v)
	}
	return stackfile.Overlay{Name: in.Path, Data: o.data}, nil
}

// Stack reads the stack files with the named configuration laid over them
// (stackfile.LoadWith): the system as it was on the day, or after the fix.
func (in *Incident) Stack(ctx context.Context, v Variant, paths []string, opts stackfile.Options) (*stackfile.File, error) {
	o, err := in.Overlay(v)
	if err != nil {
		return nil, err
	}
	f, err := stackfile.LoadWith(ctx, paths, []stackfile.Overlay{o}, opts)
	if err != nil {
		return nil, fmt.Errorf("incident %s, %s: %w", in.Name, v, err)
	}
	return f, nil
}
