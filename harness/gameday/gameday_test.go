package gameday

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

func TestLogSaysWhoDidWhatWhen(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	alice := fault.Owner{PID: 10}
	entries := []fault.Entry{
		{Time: t0, Op: fault.OpInject, ID: "a1", Fault: "latency x", By: alice, Who: "alice", Until: t0.Add(time.Minute), Note: "latency 1s"},
		{Time: t0.Add(time.Second), Op: fault.OpReverted, ID: "a1", Fault: "latency x", By: alice},
		{Time: t0.Add(2 * time.Second), Op: fault.OpInject, ID: "b2", Fault: "down y", By: alice, Who: "alice"},
		{Time: t0.Add(3 * time.Second), Op: fault.OpHalt, By: fault.Owner{PID: 20}, Who: "okbreak up", Note: "abort alert X is firing"},
		{Time: t0.Add(3 * time.Second), Op: fault.OpReverted, ID: "b2", Fault: "down y", By: fault.Owner{PID: 20}, Who: "okbreak up", Note: "halted: abort alert X is firing"},
	}
	log := Log(entries)
	if len(log) != 5 {
		t.Fatalf("%d lines, want 5", len(log))
	}
	if !strings.Contains(log[0].Note, "(until ") {
		t.Errorf("inject line says no deadline: %q", log[0].Note)
	}
	if log[1].Who != "alice" {
		t.Errorf("a revert by the injector itself names %q, want the injector", log[1].Who)
	}
	if log[4].Who != "okbreak up" || log[3].Action != "halt" {
		t.Errorf("halt lines: %+v %+v", log[3], log[4])
	}
	if s := log[3].String(); !strings.Contains(s, "abort alert X is firing") || strings.Contains(s, ": abort") {
		t.Errorf("halt line %q", s)
	}
	open := Open(entries, t0.Add(10*time.Second))
	if len(open) != 0 {
		t.Errorf("in force after their reverts: %+v", open)
	}
	open = Open(entries[:1], t0.Add(10*time.Second))
	if len(open) != 1 || open[0].Left != 50*time.Second {
		t.Errorf("in force: %+v, want a1 with 50s left", open)
	}
}

func TestLimitsRefuseNeverTruncate(t *testing.T) {
	l := Limits{MaxDuration: time.Minute, MaxTargets: 2}
	if err := l.Check(time.Minute, 2, "here"); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	err := l.Check(61*time.Second, 3, "set in X")
	if err == nil || !strings.Contains(err.Error(), "over the limit of 1m0s") || !strings.Contains(err.Error(), "3 targets") || !strings.Contains(err.Error(), "set in X") {
		t.Fatalf("over both limits: %v", err)
	}
}

func TestSelectAndHold(t *testing.T) {
	t.Setenv(stack.EnvStateDir, t.TempDir())
	if _, err := Select(""); !errors.Is(err, ErrNoStack) {
		t.Fatalf("no stack: %v", err)
	}
	for i, run := range []string{"aaaa1111", "bbbb2222"} {
		r := Record{Run: run, Owner: fault.Self(), Who: "alice", Started: time.Now().Add(time.Duration(i) * time.Second), DataPlane: "grpc"}
		if err := r.Save(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Select("")
	if err == nil || !strings.Contains(err.Error(), "aaaa1111") || !strings.Contains(err.Error(), "bbbb2222") {
		t.Fatalf("two stacks and no --run: %v", err)
	}
	if r, err := Select("bbbb2222"); err != nil || r.Run != "bbbb2222" {
		t.Fatalf("--run bbbb2222: %+v %v", r, err)
	}
	if err := Remove("aaaa1111"); err != nil {
		t.Fatal(err)
	}
	if r, err := Select(""); err != nil || r.Run != "bbbb2222" {
		t.Fatalf("the only stack: %+v %v", r, err)
	}

	release, err := Hold("bbbb2222", "alice", "okbreak run --attach")
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := Held("bbbb2222"); !ok || h.Who != "alice" {
		t.Fatalf("held: %+v %v", h, ok)
	}
	if _, err := Hold("bbbb2222", "bob", "another"); err == nil || !strings.Contains(err.Error(), "held by okbreak run --attach") {
		t.Fatalf("a second holder: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if _, ok := Held("bbbb2222"); ok {
		t.Fatal("still held after release")
	}
}
