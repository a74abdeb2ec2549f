// Package s3test starts the s3server test program (an S3-protocol server that checks request
// signatures and checksums and stores objects) on an ephemeral loopback port, and stops it
// when the test ends.
package s3test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/testutil"
)

// Pkg is the server program's package, for testutil.BuildAll.
const Pkg = "github.com/papyrad/papyrad/internal/testutil/s3server"

// The credentials the server accepts; Secret must never show in papyrad's output.
const (
	AccessKey = "PAPYRADTESTKEY"
	Secret    = "s3cr3t-Zq7vR2-never-printed"
	// WrongSecret is a secret the server does not accept; it must not show either.
	WrongSecret = "Wr0ng-K9pX4-not-printed-either"
)

// Options change how the server is started.
type Options struct {
	// Buckets are created at start.
	Buckets []string
	// DieAfter makes the server exit abruptly once that many request body bytes came in.
	DieAfter int64
	// TLS serves HTTPS with a self-signed certificate (Server.CAFile).
	TLS bool
	// FailPartsAfter, when above 0, answers 500 to every part upload after that many.
	FailPartsAfter int
}

// Server is a running s3server.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:<port> (https:// with Options.TLS).
	Endpoint string
	// CAFile holds the certificate a client must trust with Options.TLS (PEM).
	CAFile  string
	headers string
	cmd     *exec.Cmd
	// exited is closed once the process has exited; err is then how.
	exited chan struct{}
	err    error
	stderr *testutil.SyncBuffer
}

// Start starts the server program bin for tb and stops it in tb.Cleanup.
func Start(tb testing.TB, bin string, o Options) *Server {
	tb.Helper()
	dir := tb.TempDir()
	s := &Server{headers: filepath.Join(dir, "headers.ndjson"), stderr: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	args := []string{"-headers", s.headers, "-buckets", strings.Join(o.Buckets, ",")}
	if o.DieAfter > 0 {
		args = append(args, "-die-after", strconv.FormatInt(o.DieAfter, 10))
	}
	if o.FailPartsAfter > 0 {
		args = append(args, "-parts-ok", strconv.Itoa(o.FailPartsAfter))
	}
	scheme := "http://"
	if o.TLS {
		s.CAFile, scheme = filepath.Join(dir, "ca.pem"), "https://"
		args = append(args, "-tls-cert", s.CAFile)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), "S3SERVER_ACCESS_KEY="+AccessKey, "S3SERVER_SECRET_KEY="+Secret)
	s.cmd.Stderr = s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(s.Kill)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- addr
			}
		}
	}()
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case addr := <-ready:
		s.Endpoint = scheme + addr
	case <-s.exited:
		tb.Fatalf("s3server exited before listening: %v\n%s", s.err, s.stderr)
	case <-time.After(20 * time.Second):
		tb.Fatalf("s3server did not start in 20s\n%s", s.stderr)
	}
	return s
}

// Kill stops the server at once (SIGKILL) and waits for it.
func (s *Server) Kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
}

// Exited says whether the server has exited (for example by DieAfter), waiting up to d.
func (s *Server) Exited(d time.Duration) bool {
	select {
	case <-s.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// Headers returns the Object Lock, encryption, checksum algorithm and copy source headers of
// every PUT or POST so far, one map per request (method, path, query, then the headers by
// lower-case name).
func (s *Server) Headers(tb testing.TB) []map[string]string {
	tb.Helper()
	b, err := os.ReadFile(s.headers)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	var out []map[string]string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		m := map[string]string{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("headers file: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// CredentialsFile writes an AWS shared credentials file with the server's key (or with a
// wrong secret) into dir, mode 0600, and returns its path.
func CredentialsFile(tb testing.TB, dir string, wrong bool) string {
	tb.Helper()
	secret := Secret
	if wrong {
		secret = WrongSecret
	}
	p := filepath.Join(dir, "s3.credentials")
	body := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", AccessKey, secret)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
