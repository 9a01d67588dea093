package gameday

import (
	"fmt"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
)

// LogLine is one event of a game day: who did what, when.
type LogLine struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`
	PID    int       `json:"pid"`
	Action string    `json:"action"`
	Fault  string    `json:"fault,omitempty"`
	ID     string    `json:"id,omitempty"`
	Note   string    `json:"note,omitempty"`
}

// String is the line as `okbreak status --log` prints it.
func (l LogLine) String() string {
	s := fmt.Sprintf("%s  %-13s %-24s pid %-7d %s", l.Time.Local().Format("15:04:05.000"), l.Action, l.Who, l.PID, l.Fault)
	if l.ID != "" {
		s += " [" + l.ID + "]"
	}
	switch {
	case l.Note != "" && l.Fault == "":
		s += l.Note // a halt names no fault: its note is the line
	case l.Note != "":
		s += ": " + l.Note
	}
	return strings.TrimRight(s, " ")
}

// Log is the game-day log of a journal: every injection, revert and halt,
// with who did it and when, oldest first. It is a pure function of the
// entries: the journal is the record, the log a view of it.
func Log(entries []fault.Entry) []LogLine {
	who := map[string]string{}
	var out []LogLine
	for _, e := range entries {
		l := LogLine{Time: e.Time, Who: e.Who, PID: e.By.PID, Action: string(e.Op), Fault: e.Fault, ID: e.ID, Note: e.Note}
		switch e.Op {
		case fault.OpInject:
			who[e.ID] = e.Who
			l.Note = e.Note
			if !e.Until.IsZero() {
				l.Note += fmt.Sprintf(" (until %s)", e.Until.Local().Format(time.TimeOnly))
			}
		case fault.OpRevertFailed:
			l.Note = strings.TrimPrefix(l.Note+": "+e.Error, ": ")
		}
		if l.Who == "" {
			l.Who = who[e.ID] // a revert by the injector itself names no one new
		}
		if l.Who == "" {
			l.Who = "-"
		}
		out = append(out, l)
	}
	return out
}

// InForce are the open injections of a journal with their time left at now
// (negative past the deadline; zero Until: none).
type InForce struct {
	fault.Entry
	Left time.Duration
}

// Open lists the injections in force, oldest first.
func Open(entries []fault.Entry, now time.Time) []InForce {
	var out []InForce
	for _, e := range fault.OpenInjections(entries) {
		f := InForce{Entry: e}
		if !e.Until.IsZero() {
			f.Left = e.Until.Sub(now)
		}
		out = append(out, f)
	}
	return out
}
