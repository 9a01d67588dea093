package registry

import "time"

// Names of the services in the default stack.
const (
	// BackendService is the service the probe's traffic is meant for.
	BackendService = "backend"
	// OtherService is a second service; traffic routed to it by mistake is
	// refused, which makes "wrong data from the control plane" observable.
	OtherService = "other"
	// BackendRoute is the route the data plane serves: xds:///backend for
	// the gRPC frontend, Host "backend" for Envoy.
	BackendRoute = "backend"
)

// Default returns the registry of the default stack: the backend and other
// services with the given endpoints, and a route "backend" to the backend
// service with the resilience a production route would have: a timeout,
// retries on connection failures and unavailable hosts, and outlier detection
// that can eject one host of three.
func Default(backend, other []Endpoint) Registry {
	od := &OutlierDetection{
		Interval:         Duration(time.Second),
		BaseEjectionTime: Duration(10 * time.Second),
		// A host ejected again and again stays out 10 s each time, not
		// 10 s × n up to 300 s: once the fault is gone, it is back within
		// one base ejection time, whatever happened before.
		MaxEjectionTime:                Duration(10 * time.Second),
		MaxEjectionPercent:             50,
		Consecutive5xx:                 5,
		ConsecutiveGatewayFailure:      5,
		FailurePercentageThreshold:     50,
		EnforcingFailurePercentage:     100,
		FailurePercentageMinimumHosts:  3,
		FailurePercentageRequestVolume: 10,
	}
	return Registry{
		Services: map[string]Service{
			BackendService: {Name: BackendService, ConnectTimeout: Duration(time.Second), OutlierDetection: od},
			OtherService:   {Name: OtherService, ConnectTimeout: Duration(time.Second)},
		},
		Endpoints: map[string][]Endpoint{
			BackendService: backend,
			OtherService:   other,
		},
		Routes: map[string]Route{
			BackendRoute: {
				Name:    BackendRoute,
				Service: BackendService,
				Timeout: Duration(3 * time.Second),
				Retry: &RetryPolicy{
					On:            []string{"connect-failure", "reset", "5xx", "unavailable"},
					NumRetries:    2,
					PerTryTimeout: Duration(300 * time.Millisecond),
				},
			},
		},
	}
}
