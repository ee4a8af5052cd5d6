// Command go-hello is test data for kiln-sbom's syft-parity test: the test builds it with `go build
// -trimpath -buildvcs=false -mod=vendor` and catalogs the binary's build info (main module, one vendored
// dependency, the Go standard library).
package main

import (
	"fmt"

	"example.com/greet"
)

func main() {
	fmt.Println(greet.Hello("kiln"))
}
