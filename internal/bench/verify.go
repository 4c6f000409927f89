package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/money"
)

// verify computes the balance every account of the run must have from the
// transfers the server acknowledged (and those of unknown outcome that a
// lookup by key finds applied), reads every account back and returns a
// line for each difference. The error is set when the check could not be
// done at all.
func (r *run) verify(ctx context.Context, unknown []span) (checked int, problems []string, err error) {
	// After a crash there is no server to ask: say so at once.
	if _, err := r.c.GetAccount(ctx, r.mint); err != nil {
		return 0, nil, fmt.Errorf("server unreachable: %w", err)
	}
	late, err := r.resolve(ctx, unknown)
	if err != nil {
		return 0, nil, err
	}

	n := len(r.ids)
	want := make([]int64, n+1) // [n] is the merchant
	for i := range n {
		want[i] = r.funding
	}
	add := func(i uint64) error {
		from, to, amount := r.pick(i)
		want[from] -= amount
		if to < 0 {
			to = n
		}
		want[to] += amount
		return nil
	}
	_ = r.acked.each(add)
	for _, i := range late {
		_ = add(i)
	}

	type check struct {
		id   int64
		what string
		want int64
	}
	checks := make([]check, 0, n+2)
	for i, id := range r.ids {
		checks = append(checks, check{id, r.keyString('a', uint64(i)), want[i]})
	}
	if r.hot {
		checks = append(checks, check{r.merchant, r.prefix + "merchant", want[n]})
	}
	// The mint is debit-normal: its balance is what it issued.
	checks = append(checks, check{r.mint, r.prefix + "mint", r.funding * int64(n)})

	found := make([]string, len(checks))
	err = par(len(checks), 16, func(k int) error {
		c := checks[k]
		var a client.Account
		err := retry(ctx, func() (err error) {
			a, err = r.c.GetAccount(ctx, c.id)
			return err
		})
		if err != nil {
			return fmt.Errorf("read account %d: %w", c.id, err)
		}
		got, err := money.Parse(a.Balance, r.scale)
		switch {
		case err != nil:
			found[k] = fmt.Sprintf("account %d (%s): balance %q: %v", c.id, c.what, a.Balance, err)
		case got != c.want:
			found[k] = fmt.Sprintf("account %d (%s): balance %s, want %s (off by %s)", c.id, c.what,
				a.Balance, money.Format(c.want, r.scale), money.Format(got-c.want, r.scale))
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	for _, p := range found {
		if p != "" {
			problems = append(problems, p)
		}
	}
	return len(checks), problems, nil
}

// resolve looks up, by key, every transfer whose request got no usable
// answer and returns those the server did apply.
func (r *run) resolve(ctx context.Context, unknown []span) ([]uint64, error) {
	var idx []uint64
	for _, s := range unknown {
		for i := s.start; i < s.start+s.n; i++ {
			idx = append(idx, i)
		}
	}
	ok := make([]bool, len(idx))
	err := par(len(idx), 16, func(k int) error {
		key := r.keyString('t', idx[k])
		var o client.Outcome
		err := retry(ctx, func() (err error) {
			o, err = r.c.LookupTransfer(ctx, key)
			return err
		})
		switch {
		case err == nil:
			ok[k] = o.Succeeded()
		case client.Code(err) != "key_not_found": // not found: never applied
			return fmt.Errorf("look up the outcome of %s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var late []uint64
	for k, i := range idx {
		if ok[k] {
			late = append(late, i)
		}
	}
	return late, nil
}

// writeAcked writes every key the server acknowledged, one per line: the
// funding transfers of the set-up, then the run's transfers in order.
func (r *run) writeAcked(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: acked file: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	line := make([]byte, 0, 80)
	emit := func(kind byte, i uint64) error {
		line = append(r.key(line[:0], kind, i), '\n')
		_, err := w.Write(line)
		return err
	}
	for i := range r.ids {
		if err = emit('f', uint64(i)); err != nil {
			break
		}
	}
	if err == nil {
		err = r.acked.each(func(i uint64) error { return emit('t', i) })
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: acked file: %w", err)
	}
	return nil
}
