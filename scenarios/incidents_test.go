package scenarios

import (
	"testing"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/okbreaktest"
	"github.com/okbreak/okbreak/sample"
)

// TestIncidents runs the incidents of fixtures/incidents (README:
// "Incidents") on the default stack: a case alone gets its class's verdict;
// one with before and after must fail before exactly as it did on the day
// and pass after.
//
//	go test ./scenarios/ -run TestIncidents/etcd-away-for-hours
func TestIncidents(t *testing.T) {
	dp := dataPlane(t)
	files, err := sample.StackFiles(dp)
	if err != nil {
		t.Fatal(err)
	}
	okbreaktest.RunIncidents(t, okbreaktest.Incidents{
		Dir:        fixtures.IncidentsDir,
		StackFiles: files,
		Options:    stackfile.Options{FS: fixtures.FS()},
		Adjust:     sample.AddAnswerCheck,
		DataPlane:  string(dp),
		TimeScale:  timeScale(t),
		ReportDir:  reportRoot(),
		CaseBudget: caseBudget,
	})
}
