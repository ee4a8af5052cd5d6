// Package greet is a vendored dependency of go-hello, so the binary's build info lists one module.
package greet

// Hello returns a greeting for name.
func Hello(name string) string {
	return "hello, " + name
}
