package report

import "io"

// HTML is filled in below.
func HTML(w io.Writer, r *Report) error { return nil }
