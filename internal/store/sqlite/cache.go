package sqlite

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/coffer-pay/coffer/internal/store"
)

// accountCache keeps committed account rows in memory so that a batch does
// not read them back from SQLite. It is only correct while this process is
// the database's only writer, so it exists only when Open took the
// exclusive lock file (Options.Exclusive). Rows enter the cache when read
// inside a write transaction or when a transaction that wrote them commits;
// a rolled-back transaction leaves it untouched.
type accountCache struct {
	mu   sync.Mutex
	rows map[int64]store.Account
	max  int
}

func (c *accountCache) get(id int64) (store.Account, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.rows[id]
	return a, ok
}

func (c *accountCache) put(as ...store.Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rows)+len(as) > c.max {
		// Crude but bounded: start again. Hot accounts come back at once.
		c.rows = make(map[int64]store.Account, c.max/4)
	}
	for _, a := range as {
		c.rows[a.ID] = a
	}
}

func (c *accountCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = make(map[int64]store.Account)
}

// lockFile takes an exclusive advisory lock next to the database, so that a
// second Coffer process on the same SQLite file fails at start instead of
// racing the first one's account cache.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another coffer process (use PostgreSQL to run several nodes): %w", path, err)
	}
	return f, nil
}
