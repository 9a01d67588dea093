package stack

import (
	"errors"
	"net/netip"
	"os"
	"strings"

	"github.com/testcontainers/testcontainers-go"
)

// Settings of testcontainers-go that okbreak depends on. testcontainers
// reads them once per process, when it first needs them: a library that
// set them late would fix nothing, and one that set them on import would
// change every other testcontainers test of the importing module. So they
// are the caller's: `make`, the CLI's main and the environment of `go test`
// set them; Up, the test helpers and the one-call runner check them.
const (
	EnvHostOverride = "TESTCONTAINERS_HOST_OVERRIDE"
	EnvRyukDisabled = "TESTCONTAINERS_RYUK_DISABLED"
)

// dockerEnvFile exists inside a container; testcontainers-go then dials the
// default gateway to reach published ports, unless told otherwise.
var dockerEnvFile = "/.dockerenv"

// CheckEnvironment says what in this process's testcontainers-go settings
// would send traffic somewhere other than loopback, or rely on Ryuk, with
// the fix. It returns nil when okbreak can run. Safe for concurrent use.
func CheckEnvironment() error {
	var errs []error
	if !testcontainers.ReadConfig().Config.RyukDisabled {
		errs = append(errs, errors.New("testcontainers-go's Ryuk is enabled: okbreak removes what it starts itself (and `okbreak recover` sweeps killed runs), and Ryuk's image would be pulled from a registry; "+
			"fix: set "+EnvRyukDisabled+"=true in the environment that starts the process (e.g. `"+EnvRyukDisabled+"=true go test ./...`; `make` sets it)"))
	}
	host := os.Getenv(EnvHostOverride)
	switch {
	case host != "" && !loopbackHost(host):
		errs = append(errs, errors.New(EnvHostOverride+"="+host+" is not 127.0.0.1: okbreak publishes every port on 127.0.0.1 and sends traffic nowhere else; fix: "+EnvHostOverride+"=127.0.0.1"))
	case host == "" && fileExists(dockerEnvFile):
		errs = append(errs, errors.New("this process runs in a container ("+dockerEnvFile+" exists), where testcontainers-go reaches published ports through the default gateway, an address that is not okbreak's; "+
			"fix: set "+EnvHostOverride+"=127.0.0.1 in the environment that starts the process (`make` sets it)"))
	}
	return errors.Join(errs...)
}

// loopbackHost accepts the address okbreak publishes ports on (Loopback)
// and localhost: ::1 or another 127.x would reach nothing.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && a == Loopback
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
