package stackfile

import (
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "gopkg.in/yaml.v3"
)
