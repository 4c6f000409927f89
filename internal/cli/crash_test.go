package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/bench"
	"github.com/coffer-pay/coffer/internal/store/postgres"
)

// testMasterKey seals the secrets of the servers these tests start.
const testMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// buildCoffer compiles the coffer binary once per test binary run.
func buildCoffer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "coffer")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/coffer-pay/coffer/cmd/coffer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a coffer serve child process.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *os.File
}

func startServer(t *testing.T, bin, db, addr, key string) *server {
	t.Helper()
	logs, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", addr)
	cmd.Dir = t.TempDir()
	// One master key for every start of this test's database.
	cmd.Env = append(os.Environ(), "COFFER_ADMIN_KEY="+key, "COFFER_MASTER_KEY="+testMasterKey)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, logs: logs}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, _ := os.ReadFile(logs.Name())
	t.Fatalf("server did not become ready:\n%s", out)
	return nil
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

// TestCrashKeepsAcknowledgedWrites runs `coffer bench` load against a
// `coffer serve` child process, kills it with SIGKILL at a random moment,
// restarts it, and checks that every transfer the bench saw acknowledged
// is there and that `coffer verify` passes — on SQLite and PostgreSQL.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills real processes; skipped with -short")
	}
	bin := buildCoffer(t)
	cycles := 3
	if v := os.Getenv("COFFER_CRASH_CYCLES"); v != "" {
		fmt.Sscan(v, &cycles)
	}
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "coffer.db") },
		"postgres": func(t *testing.T) string { return postgres.NewTestDatabase(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			db := backends[name](t)
			key, _, err := apikey.Generate("admin", 1, "crash-test")
			if err != nil {
				t.Fatal(err)
			}
			addr := freeAddr(t)
			for cycle := range cycles {
				srv := startServer(t, bin, db, addr, key)
				acked := filepath.Join(t.TempDir(), fmt.Sprintf("acked-%d.txt", cycle))
				done := make(chan error, 1)
				go func() {
					_, err := bench.Run(context.Background(), bench.Options{
						URL: srv.url, Key: key, Scenario: []string{bench.Spread, bench.Hot, bench.Batch}[cycle%3],
						Concurrency: 32, Count: 10_000_000, Duration: 20 * time.Second, Accounts: 200, BatchSize: 200,
						Timeout: 5 * time.Second, MaxErrors: 20, AckedFile: acked, SkipVerify: true,
					}, io.Discard)
					done <- err
				}()
				// Kill at a random moment once the bench's set-up is done (its
				// accounts exist), so that transfers are in flight.
				watch := client.New(srv.url, key)
				deadline := time.Now().Add(60 * time.Second)
				for time.Now().Before(deadline) && countAccounts(watch) <= 200*(cycle+1) {
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
				srv.kill(t)
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					t.Fatal("bench did not stop after the server died")
				}

				srv = startServer(t, bin, db, addr, key)
				keys := readLines(t, acked)
				if len(keys) == 0 {
					t.Fatalf("cycle %d: the bench saw nothing acknowledged", cycle)
				}
				c := client.New(srv.url, key)
				missing := 0
				for _, k := range keys {
					o, err := c.LookupTransfer(context.Background(), k)
					if err != nil || !o.Succeeded() {
						missing++
						if missing <= 5 {
							t.Errorf("cycle %d: acknowledged key %q: %+v %v", cycle, k, o, err)
						}
					}
				}
				if missing > 0 {
					t.Fatalf("cycle %d: %d of %d acknowledged transfers missing after SIGKILL", cycle, missing, len(keys))
				}
				srv.kill(t)
				out, err := exec.Command(bin, "verify", "--db", db).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "ok:") {
					t.Fatalf("cycle %d: coffer verify: %v\n%s", cycle, err, out)
				}
				t.Logf("cycle %d: %d acknowledged transfers present; %s", cycle, len(keys), strings.TrimSpace(strings.Split(string(out), "\n")[0]))
			}
		})
	}
}

// countAccounts counts the server's accounts (0 if it does not answer).
func countAccounts(c *client.Client) int {
	n := 0
	p := client.ListAccountsParams{Limit: 1000}
	for {
		page, err := c.ListAccounts(context.Background(), p)
		if err != nil {
			return 0
		}
		n += len(page.Data)
		if page.NextCursor == "" {
			return n
		}
		p.Cursor = page.NextCursor
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
