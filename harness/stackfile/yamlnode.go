package stackfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// document parses the YAML into a node tree and returns its root mapping,
// or nil after reporting why there is none.
func document(r *report, data []byte) (root *yaml.Node) {
	defer func() {
		// gopkg.in/yaml.v3 has panicked on hostile input before; a stack
		// file is user input, so turn any such panic into an error.
		if v := recover(); v != nil {
			r.add(1, 1, "check the file's YAML", "the YAML parser failed on this file: %v", v)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			r.add(1, 1, "start with `services:` and an `x-okbreak:` block", "the stack file is empty")
			return nil
		}
		syntax(r, data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		r.at(&extra, "keep the whole stack in one document", "a second YAML document; a stack file is one document")
		return nil
	case !errors.Is(err, io.EOF):
		syntax(r, data, err)
		return nil
	}
	if len(doc.Content) == 0 {
		r.add(1, 1, "start with `services:` and an `x-okbreak:` block", "the stack file is empty")
		return nil
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		r.at(root, "start with `services:` and an `x-okbreak:` block", "the stack file must be a mapping, not %s", describe(root))
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^line (\d+)`)

// syntax reports a YAML syntax error. gopkg.in/yaml.v3 names the line where
// the enclosing block started (and 0-based, for parser errors), not the line
// at fault; so find the shortest prefix of the file that fails with the same
// problem, and point at its last line's first character.
func syntax(r *report, data []byte, err error) {
	msg := trimLine(strings.TrimPrefix(err.Error(), "yaml: "))
	line := 1
	if m := yamlLine.FindStringSubmatch(strings.TrimPrefix(err.Error(), "yaml: ")); m != nil {
		line, _ = strconv.Atoi(m[1])
		line = max(line, 1)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if problem(data) == msg {
		// Bisect between a prefix that does not fail this way (the empty
		// one) and one that does (the whole file): a few parses, where a
		// line-by-line search would be quadratic.
		lo, hi := 0, len(lines)
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if problem(bytes.Join(lines[:mid], nil)) == msg {
				hi = mid
			} else {
				lo = mid
			}
		}
		line = max(hi, 1)
	}
	col := 1
	if line <= len(lines) {
		l := lines[line-1]
		col = len(l) - len(bytes.TrimLeft(l, " \t")) + 1
	}
	r.add(line, col, "fix the YAML syntax", "YAML syntax: %s", msg)
}

// trimLine drops a YAML error's "line N: " prefix.
func trimLine(msg string) string {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
	}
	return msg
}

// problem returns the YAML syntax problem of data without its line, or "".
func problem(data []byte) (msg string) {
	defer func() {
		if recover() != nil {
			msg = ""
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return trimLine(strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
}

// deref follows aliases to the node they name. Compose files share
// settings through anchors, so the Compose part of a stack file may use
// them; positions then point at the anchor's text.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for messages: "a list", "a mapping", "the
// number 3".
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!str":
			return fmt.Sprintf("%q", n.Value)
		}
		return fmt.Sprintf("a %s value", n.Tag)
	}
	return "nothing"
}

// plainScalar reports whether n is a scalar Compose can read as text:
// strings, numbers and booleans, not nulls, timestamps or custom tags such
// as Compose's !reset, which only mean something across several files.
func plainScalar(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.Tag {
	case "!!str", "!!int", "!!float", "!!bool":
		return true
	}
	return false
}
