package stackfile_test

import (
	"context"
	"fmt"

	"github.com/okbreak/okbreak/harness/stackfile"
)

func ExampleLoad() {
	f, err := stackfile.Load(context.Background(), "testdata/ok/shop.yaml", stackfile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range f.Links {
		fmt.Printf("%-16s %s -> %s:%d\n", l.Name, l.From, l.To, l.Port)
	}
	fmt.Println("probe:", f.Probe.Method, f.Probe.Link, f.Probe.Path)
	// Output:
	// client->gateway  client -> gateway:10000
	// gateway->cart-a  gateway -> cart-a:8080
	// gateway->cart-b  gateway -> cart-b:8080
	// xds              gateway -> shop-xds:18000
	// any->etcd        any -> etcd:2379
	// probe: GET client->gateway /cart
}

func ExampleLoadFiles() {
	f, err := stackfile.LoadFiles(context.Background(), []string{"testdata/ok/shop.yaml", "testdata/overlay/dev.yaml"}, stackfile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The overlay changes cart-a's image, its config file (read from the
	// overlay's folder) and its metrics path, and nothing else.
	a, _ := f.Service("cart-a")
	fmt.Printf("%s %s %q\n", a.Image, a.Configs[0].Target, a.Configs[0].Content)
	fmt.Println(f.Components["cart-a"].Metrics.Path, f.Components["cart-a"].Ready.Path)
	// Output:
	// registry.example.com/shop/cart:dev /etc/cart/cart.yaml "instance: cart-a\ndebug: true\n"
	// /debug/metrics /healthz
}
