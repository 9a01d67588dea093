package fault

import "github.com/okbreak/okbreak/harness/stack"

// BadConfigOf exposes what a bad_config_at_start fault will write, for the
// external test that checks it against the sample system's data planes.
func BadConfigOf(f Fault) (file string, content []byte) {
	bc := f.(*badConfigFault)
	return bc.file, bc.content
}

// Validated builds the fault of spec without a running system, as Validate
// does, and returns it.
func Validated(spec Spec, def stack.Definition) (Fault, error) {
	t, err := lookup(spec.Type)
	if err != nil {
		return nil, err
	}
	return build(t, spec, def, nil)
}
