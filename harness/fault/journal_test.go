package fault_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/fault"
)

func TestJournalRecordsInjectionsUntilClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "r1")
	j := fault.OpenJournal(dir)
	entries, err := j.Entries()
	require.NoError(t, err)
	require.Empty(t, entries, "a journal that was never written is empty")

	enabled := true
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpInject, ID: "a", Run: "r1", Fault: "down edge->xds", By: fault.Self(),
		Undo: []fault.Undo{{Action: fault.UndoSetProxy, Proxy: "edge->xds", Enabled: &enabled}}}))
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpInject, ID: "b", Run: "r1", Fault: "stop etcd", By: fault.Self()}))
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpInject, ID: "c", Run: "r1", Fault: "pause etcd", By: fault.Self()}))
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpRevertFailed, ID: "b", Run: "r1", Error: "docker down"}))
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpReverted, ID: "a", Run: "r1"}))
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpAbandoned, ID: "c", Run: "r1"}))

	entries, err = j.Entries()
	require.NoError(t, err)
	require.Len(t, entries, 6)
	require.False(t, entries[0].Time.IsZero())
	require.Equal(t, "edge->xds", entries[0].Undo[0].Proxy)
	require.True(t, *entries[0].Undo[0].Enabled)
	open := fault.OpenInjections(entries)
	require.Len(t, open, 1)
	require.Equal(t, "b", open[0].ID, "a failed revert leaves the injection open")
}

func TestJournalSurvivesATornLastLineButNotDamage(t *testing.T) {
	dir := t.TempDir()
	j := fault.OpenJournal(dir)
	require.NoError(t, j.Append(fault.Entry{Op: fault.OpInject, ID: "a"}))
	f, err := os.OpenFile(j.Path(), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"op":"inject","id":"b","undo":[{"act`) // killed mid-write
	require.NoError(t, err)
	require.NoError(t, f.Close())
	entries, err := j.Entries()
	require.NoError(t, err)
	require.Len(t, entries, 1)

	require.NoError(t, os.WriteFile(j.Path(), []byte("{\"op\":\"inject\",\"id\":\"a\"}\nnot json\n{\"op\":\"inject\",\"id\":\"c\"}\n"), 0o644))
	_, err = j.Entries()
	require.ErrorContains(t, err, "line 2")
}

func TestJournalTakesConcurrentAppends(t *testing.T) {
	j := fault.OpenJournal(t.TempDir())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				require.NoError(t, j.Append(fault.Entry{Op: fault.OpInject, ID: fmt.Sprintf("%d-%d", g, i), Note: string(make([]byte, 2000))}))
			}
		}()
	}
	wg.Wait()
	entries, err := j.Entries()
	require.NoError(t, err)
	require.Len(t, entries, 200)
	require.Len(t, fault.OpenInjections(entries), 200)
}

func TestOwnersAliveAndDead(t *testing.T) {
	require.True(t, fault.Self().Alive())
	require.NotEmpty(t, fault.Self().Start)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, cmd.Run())
	dead := fault.Owner{PID: cmd.Process.Pid, Start: "1", Host: fault.Self().Host}
	require.False(t, dead.Alive(), "a finished process")
	reused := fault.Owner{PID: os.Getpid(), Start: "1", Host: fault.Self().Host}
	require.False(t, reused.Alive(), "a PID now used by another process")
	elsewhere := fault.Owner{PID: cmd.Process.Pid, Host: "another-host"}
	require.True(t, elsewhere.Alive(), "another host's process is never declared dead")
}

func TestRevertOrderIsNewestFirst(t *testing.T) {
	j := fault.OpenJournal(t.TempDir())
	// A registry edit, then etcd stopped, then a third fault reverted
	// already: the stop must be reverted before the edit.
	for _, e := range []fault.Entry{
		{Op: fault.OpInject, ID: "edit"},
		{Op: fault.OpInject, ID: "stop"},
		{Op: fault.OpInject, ID: "gone"},
		{Op: fault.OpReverted, ID: "gone"},
	} {
		require.NoError(t, j.Append(e))
	}
	entries, err := j.Entries()
	require.NoError(t, err)
	open := fault.OpenInjections(entries)
	ids := func(es []fault.Entry) (out []string) {
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	require.Equal(t, []string{"edit", "stop"}, ids(open))
	require.Equal(t, []string{"stop", "edit"}, ids(fault.RevertOrder(open)))
	require.Equal(t, []string{"edit", "stop"}, ids(open), "RevertOrder leaves its argument as it was")
}
