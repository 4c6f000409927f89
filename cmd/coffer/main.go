// Command coffer is the Coffer payments and wallet server and its tools.
package main

import (
	"context"
	"os"

	"github.com/coffer-pay/coffer/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args, os.Stdout, os.Stderr))
}
