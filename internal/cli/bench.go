package cli

import (
	"context"

	"github.com/coffer-pay/coffer/internal/bench"
)

func runBench(ctx context.Context, env *Env, args []string) error {
	var opt bench.Options
	fs := newFlags(env, "bench", "Drive a running Coffer server with load over HTTP (the native API) and print throughput\nand latency percentiles; the last line is one JSON object. Bounded by --count and --duration.\nAfter the run it checks every balance it touched.")
	opt.Flags(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	_, err := bench.Run(ctx, opt, env.Stdout)
	return err
}
