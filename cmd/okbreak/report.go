package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/harness/report"
)

func newReportCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "report FILE.json|FOLDER",
		Short: "Render junit.xml, report.md and report.html from a run's report.json",
		Long: `report renders a run's report.json (what okbreak run writes into its report
folder, or prints with --json) into junit.xml, report.md and report.html, beside
the JSON file or into --dir. The JSON must have been written by this version of
okbreak: unknown fields are refused rather than half rendered.`,
		Example: `  okbreak report okbreak-reports/3f2a9c1e/report.json
  okbreak run --json > run.json && okbreak report run.json --dir site/chaos
  okbreak report diff last-week/report.json today/report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := reportPath(args[0])
			r, err := report.ReadFile(path)
			if err != nil {
				return badInput("%w", err)
			}
			out := dir
			if out == "" {
				out = filepath.Dir(path)
			}
			if err := report.Write(out, r, filepath.Clean(out) != filepath.Dir(filepath.Clean(path))); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s (%s)\n", out, countsLine(r))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder to write into (default: the JSON file's folder)")
	cmd.AddCommand(newReportDiffCmd())
	return cmd
}

func countsLine(r *report.Report) string {
	c := r.Counts()
	return fmt.Sprintf("%d cases: %d survived, %d alerted, %d failed, %d invalid, %d skipped",
		c.Cases, c.Survived, c.Alerted, c.Failed, c.Invalid, c.Skipped)
}

func newReportDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff A.json B.json",
		Short: "List the cases whose verdict, time to detect or time to recover changed from A to B",
		Long: fmt.Sprintf(`diff compares two runs' reports case by case and lists every case whose
verdict changed, whose time to detect or to recover moved by more than %gs and
%.0f%%, and the cases only one of them has.
Exit codes: 0 no change; 1 changes listed; 2 a file cannot be read.`, report.DiffTolerance, 100*report.DiffRelTolerance),
		Example: `  okbreak report diff main/report.json branch/report.json`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := report.ReadFile(reportPath(args[0]))
			if err != nil {
				return badInput("%w", err)
			}
			b, err := report.ReadFile(reportPath(args[1]))
			if err != nil {
				return badInput("%w", err)
			}
			changes := report.Diff(a, b)
			out := cmd.OutOrStdout()
			for _, c := range changes {
				fmt.Fprintln(out, c)
			}
			if len(changes) > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d changes from %s to %s", len(changes), a.Run, b.Run)}
			}
			fmt.Fprintf(out, "no change: %d cases with the same verdicts and times\n", len(b.Cases))
			return nil
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print okbreak's version",
		Example: `  okbreak version`,
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "okbreak", report.Version())
		},
	}
}
