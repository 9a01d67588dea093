package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stack"
)

// dataPlanes are the data planes a command checks: the one asked for, or
// both when it is auto.
func dataPlanes(flag string) ([]stack.DataPlane, error) {
	if flag == "" || flag == "auto" {
		return []stack.DataPlane{stack.Envoy, stack.GRPC}, nil
	}
	dp, err := stack.ParseDataPlane(flag)
	if err != nil {
		return nil, badInput("--data-plane: %w", err)
	}
	return []stack.DataPlane{dp}, nil
}

func newValidateCmd() *cobra.Command {
	var dataPlane string
	var inputs inputFlags
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the catalog, the alert rules and the stack without Docker",
		Long: `validate checks, without Docker, what a run would refuse and what it would
get wrong:
  - the catalog: its fields, fault types, targets and params, for each data plane;
  - the alert rules: Prometheus's own rule-file checks, then okbreak's lint.
    A rule that reads the harness's own metrics or cannot be time-scaled is an
    error; okbreak's house rules (a severity, a summary or description, a
    page's hold) are warnings;
  - every alert a not-ok case expects exists and pages (the catalog's
    page_label, default severity: page);
  - rule coverage: a page rule that no not-ok case expects is a warning (a page
    nobody has proved can fire);
  - the stack definition renders; with --stack, the stack file (Compose's
    subset okbreak runs, and its x-okbreak block), each error at file:line:col.
--strict turns every warning into an error. Exit 0: valid; 2: not.`,
		Example: `  okbreak validate
  okbreak validate --alerts ./my-rules --strict
  okbreak validate --alerts 'rules/*.yaml' --alerts extra.yml
  okbreak validate --catalog my-catalog.yaml --data-plane grpc
  okbreak validate --stack fixtures/stacks/shop/stack.yaml   # your own system's stack file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dps, err := dataPlanes(dataPlane)
			if err != nil {
				return err
			}
			if inputs.stack != "" {
				// A stack file is one system: its data plane is its own.
				dps = dps[:1]
			}
			out := cmd.OutOrStdout()
			errs, warns := validate(inputs, dps)
			for _, w := range warns {
				fmt.Fprintln(out, "warning:", w)
			}
			for _, e := range errs {
				fmt.Fprintln(out, "error:", e)
			}
			if len(errs) > 0 || strict && len(warns) > 0 {
				return badInput("%s: %d errors, %d warnings%s", inputs.describe(), len(errs), len(warns), strictNote(strict, warns))
			}
			target := " for " + joinDP(dps)
			if inputs.stack != "" {
				target = ""
			}
			fmt.Fprintf(out, "valid: %s%s (%d warnings)\n", inputs.describe(), target, len(warns))
			return nil
		},
	}
	f := cmd.Flags()
	inputs.register(f)
	f.StringVar(&dataPlane, "data-plane", "auto", "data plane to check for: envoy, grpc or auto (both)")
	f.BoolVar(&strict, "strict", false, "treat every warning as an error")
	return cmd
}

func strictNote(strict bool, warns []error) string {
	if strict && len(warns) > 0 {
		return " (--strict: warnings count)"
	}
	return ""
}

func joinDP(dps []stack.DataPlane) string {
	var s []string
	for _, dp := range dps {
		s = append(s, string(dp))
	}
	return strings.Join(s, " and ")
}

// validate returns the errors and warnings of a catalog and its rules for
// each data plane, each once.
func validate(inputs inputFlags, dps []stack.DataPlane) (errs, warns []error) {
	seen := map[string]bool{}
	add := func(list *[]error, err error) {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			*list = append(*list, err)
		}
	}
	for _, dp := range dps {
		t, in, err := inputs.system(dp)
		if err != nil {
			add(&errs, err)
			continue
		}
		def := t.def
		if _, err := t.shown.ComposeFiles(); err != nil {
			add(&errs, fmt.Errorf("stack (%s): %w", def.DataPlane, err))
		}
		cat, rules, lintWarns, err := in.Load(def)
		for _, w := range lintWarns {
			add(&warns, w)
		}
		if err != nil {
			add(&errs, fmt.Errorf("%s data plane: %w", def.DataPlane, err))
			continue
		}
		for _, w := range coverage(cat, rules, dp) {
			add(&warns, w)
		}
	}
	return errs, warns
}

// coverage lists the page rules no not-ok case expects: pages nobody has
// proved can fire. (That every expected alert exists and pages is the
// catalog loader's check.)
func coverage(cat *catalog.Catalog, rules []alert.RuleFile, dp stack.DataPlane) (warns []error) {
	expected := map[string]bool{}
	for _, c := range cat.Cases {
		if c.Class == catalog.NotOK && c.SkipReason(string(dp)) == "" {
			for _, name := range c.Expect.Alerts.Names {
				expected[name] = true
			}
		}
	}
	for _, a := range alert.Alerts(rules) {
		if a.Pages(cat.Defaults.PageLabels) && !expected[a.Name] {
			warns = append(warns, fmt.Errorf("rule coverage (%s): page rule %s (%s, group %q) is expected by no not-ok case: nothing proves it can fire",
				dp, a.Name, a.File, a.Group))
		}
	}
	return warns
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func newListCmd() *cobra.Command {
	var dataPlane string
	var inputs inputFlags
	var scale float64
	var parallel int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the catalog's cases with their durations and the run's estimated wall time",
		Long: `list prints every case of the catalog: its class, fault, target, its duration
in world time and at the requested time scale (each case caps the scale so that
its shortest window still holds enough samples), and an estimate of the whole
run's wall time. No Docker needed.`,
		Example: `  okbreak list
  okbreak list --time-scale 1        # what a real-time game day would take
  okbreak list --parallel 2          # the run's time on two stacks side by side (okbreak run --parallel 2)
  okbreak list --catalog my-catalog.yaml --data-plane envoy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scale < 1 {
				return badInput("--time-scale %v: want a number >= 1 (1 = real time)", scale)
			}
			if parallel < 1 {
				return badInput("--parallel %d: want a number of stacks >= 1", parallel)
			}
			dps, err := dataPlanes(dataPlane)
			if err != nil {
				return err
			}
			cat, _, err := load(inputs, dps[len(dps)-1])
			if err != nil {
				return err
			}
			return listCases(cmd.OutOrStdout(), cat, scale, parallel)
		},
	}
	f := cmd.Flags()
	inputs.register(f)
	f.StringVar(&dataPlane, "data-plane", envOr("OKBREAK_DATA_PLANE", "grpc"), "data plane: envoy or grpc")
	f.Float64Var(&scale, "time-scale", 240, "compress long windows by this factor (capped per case)")
	f.IntVar(&parallel, "parallel", 1, "estimate the run on this many stacks side by side")
	return cmd
}

func listCases(w io.Writer, cat *catalog.Catalog, scale float64, parallel int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tCLASS\tFAULT\tTARGET\tDURATION\tAT SCALE\tSCALE\tWALL (EST.)")
	var total time.Duration
	for _, c := range cat.Cases {
		plan, err := c.Plan(scale, cat.Defaults)
		if err != nil {
			return badInput("%s: case %s: %w", cat.File, c.Name, err)
		}
		wall := harness.EstimateWall(c.Class, plan)
		total += wall
		for i, f := range c.Faults {
			target := strings.Join(f.TargetNames(), ",")
			if i > 0 {
				// A compound case's further faults, each on a row of its own.
				fmt.Fprintf(tw, "\t\t+ %s\t%s %s\t\t\t\t\n", f.Type, target, slot(f, c.Duration))
				continue
			}
			if c.Compound() {
				target += " " + slot(f, c.Duration)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.4g\t%s\n", c.Name, c.Class, f.Type, target,
				c.Duration, plan.Fault.Round(100*time.Millisecond), plan.Scale, wall.Round(time.Second))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if parallel > 1 {
		// The longest lane decides.
		lanes := harness.Lanes(cat.Cases, cat.Defaults, scale, parallel)
		left := harness.LaneLeft(cat.Cases, lanes, cat.Defaults, scale)
		total = 0
		for _, lane := range lanes {
			total = max(total, left[lane[0]])
		}
	}
	fmt.Fprintf(w, "\n%d cases; estimated wall time %s at time scale %g on %d stack(s), plus the stack's start (seconds warm, minutes when images are built).\n",
		len(cat.Cases), total.Round(time.Second), scale, parallel)
	return nil
}

// slot says when a fault of a compound case is in force, in world time.
func slot(f catalog.Fault, window time.Duration) string {
	return fmt.Sprintf("(%s to %s)", f.At, f.End(window))
}

// reportPath is where a folder's report.json lives.
func reportPath(p string) string {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return filepath.Join(p, "report.json")
	}
	return p
}
