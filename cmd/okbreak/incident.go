package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/incident"
)

// defaultIncidentsDir is where a checkout keeps its incidents; away from
// one, `incident list` reads those embedded in the binary.
const defaultIncidentsDir = "fixtures/incidents"

func newIncidentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "Turn past outages into regression tests: scaffold and list incident files",
		Long: `An incident file keeps a past outage as a test (README: Incidents): where it
came from, the case that reproduces it, and, when the outage was a
configuration of the day, that configuration (before) and its fix (after) as
overlays on the stack file, with the failure before must show (expect_before).
go test ./scenarios/ -run TestIncidents runs them.`,
	}
	cmd.AddCommand(newIncidentNewCmd(), newIncidentListCmd())
	return cmd
}

var incidentName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func newIncidentNewCmd() *cobra.Command {
	var title, date, dir, caseName string
	var inputs inputFlags
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Write an incident file to fill in; it validates, and tests skip it as to do until before and after differ",
		Example: `  okbreak incident new envoy-no-connect-retry --title "No retry on failed connections" --date 2018-11-11
  okbreak incident new etcd-away --title "etcd away for hours" --date 2019-02-01 --case etcd-down-2h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !incidentName.MatchString(name) {
				return badInput("incident name %q: use lower-case letters, digits and dashes, e.g. envoy-no-connect-retry", name)
			}
			if _, err := time.Parse(time.DateOnly, date); err != nil {
				return badInput("--date %q: write YYYY-MM-DD, e.g. 2018-11-11", date)
			}
			if strings.TrimSpace(title) == "" {
				return badInput("--title: say in a line what happened")
			}
			entry := ""
			if caseName == "" {
				t, err := inputs.target("")
				if err != nil {
					return err
				}
				entry = t.def.Entry.Link
			}
			path := filepath.Join(dir, name+".yaml")
			body := scaffold(title, date, caseName, name, entry)
			if _, err := incident.Parse(path, []byte(body)); err != nil {
				return fmt.Errorf("the scaffold does not read back (a bug): %w", err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, os.ErrExist) {
				return badInput("%s exists: pick another name, or edit it", path)
			}
			if err != nil {
				return err
			}
			if _, err := io.WriteString(f, body); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: fill in the provenance, then make before the configuration of the day and after the fix; until they differ, TestIncidents/%s is skipped as to do\n", path, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&title, "title", "", "what happened, in a line (required)")
	cmd.Flags().StringVar(&date, "date", "", "when it happened, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&dir, "dir", defaultIncidentsDir, "folder of incident files")
	cmd.Flags().StringVar(&caseName, "case", "", "a catalog case that reproduces it (default: a case written in the file, to edit)")
	cmd.Flags().StringVar(&inputs.stack, "stack", "", "stack file whose entry link the scaffolded case targets (default: the sample system)")
	return cmd
}

// scaffold is a new incident file: everything to do says so, and before
// and after are the same empty overlay.
func scaffold(title, date, caseName, name, entry string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# An incident kept as a regression test (README: Incidents).
version: 1
title: %q
date: %s
provenance:
  summary: "to do: what happened, in a few lines"
  link: "to do: the post-mortem, ticket or report"
  broke: "to do: what broke"
  detected: "to do: how it was detected"
  remediation: "to do: what fixed it"
  source: "to do: where the lesson came from"
`, title, date)
	if caseName != "" {
		fmt.Fprintf(&b, "case: %q\n", caseName)
	} else {
		fmt.Fprintf(&b, `cases:
  # to do: the fault that reproduces it, in the catalog's schema.
  - name: %s
    class: ok-to-break
    why: "to do: why the system must survive this"
    fault: {type: latency, target: %s, params: {latency: 1s}}
    duration: 5m
`, name, entry)
	}
	b.WriteString(`# to do: the configuration of the day (before) and the fix (after), as
# overlays on the stack file, e.g. services: {edge: {command: [...]}}.
before:
  services: {}
after:
  services: {}
# to do: the failure the incident had: {slo_breached: during|after},
# {alert_not_fired: NAME} or {page_fired: NAME}.
expect_before: {slo_breached: during}
`)
	return b.String()
}

func newIncidentListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list [DIR]",
		Short: "List incident files, with what each runs",
		Long: `list reads every incident file in DIR (default: fixtures/incidents, or the
incidents embedded in the binary when there is no such folder) and prints
each with its date, what it runs and whether it is still to do. A file that
does not read is an error at file:line:column (exit 2).`,
		Example: `  okbreak incident list
  okbreak incident list ./incidents`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ins, err := listIncidents(args)
			if err != nil {
				return badInput("%w", err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tDATE\tRUNS\tBEFORE/AFTER\tTITLE")
			for _, in := range ins {
				runs := in.Case
				if runs == "" {
					var names []string
					for _, c := range in.Cases {
						names = append(names, c.Name)
					}
					runs = strings.Join(names, ",")
				}
				variants := "-"
				switch {
				case in.Identical():
					variants = "to do: identical"
				case in.HasVariants():
					variants = "expect " + in.ExpectBefore.String()
				}
				if len(in.Requires) > 0 {
					variants += " (needs " + strings.Join(in.Requires, ",") + ")"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", in.Name, in.Date.Format(time.DateOnly), runs, variants, in.Title)
			}
			return w.Flush()
		},
	}
}

func listIncidents(args []string) ([]*incident.Incident, error) {
	if len(args) == 1 {
		return incident.LoadDir(args[0])
	}
	if st, err := os.Stat(defaultIncidentsDir); err == nil && st.IsDir() {
		return incident.LoadDir(defaultIncidentsDir)
	}
	return incident.LoadFS(fixtures.FS(), fixtures.IncidentsDir)
}
