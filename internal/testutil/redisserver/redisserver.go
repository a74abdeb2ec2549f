// Package redisserver starts a real redis-server for tests: on a unix socket in a fresh
// directory (or on an ephemeral 127.0.0.1 port), with persistence off unless asked for, and
// stops it when the test ends. Where redis-server is not installed the test is skipped, except
// under CI=true, where a skipped Redis test would hide a gap and the test fails instead.
package redisserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options change how the server is started.
type Options struct {
	// TCP listens on an ephemeral port of 127.0.0.1 as well as the unix socket.
	TCP bool
	// Persist turns the append-only file on (fsync always), so that data and key expiries
	// survive Restart. Off, the server keeps nothing across a restart.
	Persist bool
	// Args are more redis-server arguments, such as "--stream-node-max-entries", "10".
	Args []string
}

// Server is a running redis-server.
type Server struct {
	tb     testing.TB
	dir    string
	sock   string
	port   int
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// Start starts a redis-server for the test and stops it in tb.Cleanup.
func Start(tb testing.TB, opts ...Options) *Server {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is not installed (CI must run the Redis tests): %v", err)
		}
		tb.Skipf("redis-server is not installed: %v", err)
	}
	// A short directory: a unix socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "rds-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, dir: dir, sock: filepath.Join(dir, "redis.sock"), log: filepath.Join(dir, "redis.log")}
	s.args = []string{
		"--unixsocket", s.sock, "--unixsocketperm", "700",
		"--save", "", "--dir", dir, "--logfile", s.log, "--daemonize", "no",
	}
	if o.Persist {
		s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		s.args = append(s.args, "--appendonly", "no")
	}
	s.args = append(s.args, o.Args...)
	tb.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		_ = os.RemoveAll(dir)
	})
	for attempt := 0; ; attempt++ {
		port := 0
		if o.TCP {
			if port, err = freePort(); err != nil {
				tb.Fatal(err)
			}
		}
		err = s.launch(bin, port)
		if err == nil {
			return s
		}
		if !o.TCP || attempt == 4 {
			tb.Fatalf("start redis-server: %v", err)
		}
		// The port was taken between choosing it and binding it: choose another.
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) launch(bin string, port int) error {
	args := append([]string{}, s.args...)
	args = append(args, "--port", strconv.Itoa(port))
	if port != 0 {
		args = append(args, "--bind", "127.0.0.1")
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.port = cmd, port
	s.exited = make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.exited)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping("unix", s.sock); err == nil {
			if port == 0 {
				return nil
			}
			if err := ping("tcp", s.TCPAddr()); err == nil {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("redis-server exited at start:\n%s", s.tail())
		default:
		}
		if time.Now().After(deadline) {
			s.stop(syscall.SIGKILL)
			return fmt.Errorf("redis-server did not answer PING within 10s:\n%s", s.tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends one PING and expects PONG.
func ping(network, addr string) error {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server with requirepass answers NOAUTH: it is up all the same.
	if l := strings.TrimSpace(line); l != "+PONG" && !strings.HasPrefix(l, "-NOAUTH") {
		return errors.New("unexpected reply to PING: " + strings.TrimSpace(line))
	}
	return nil
}

func (s *Server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Socket is the unix socket's path.
func (s *Server) Socket() string { return s.sock }

// TCPAddr is host:port on 127.0.0.1, or "" without Options.TCP.
func (s *Server) TCPAddr() string {
	if s.port == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(s.port)
}

// URL is a redis URL for database db: redis://127.0.0.1:PORT/db with Options.TCP, else
// unix://SOCKET?db=db.
func (s *Server) URL(db int) string {
	if s.port != 0 {
		return fmt.Sprintf("redis://127.0.0.1:%d/%d", s.port, db)
	}
	return fmt.Sprintf("unix://%s?db=%d", s.sock, db)
}

// Dir is the server's working directory (its append-only file lives there).
func (s *Server) Dir() string { return s.dir }

// Stop shuts the server down (SIGTERM, then SIGKILL after 10s) and waits for it.
func (s *Server) Stop() {
	s.tb.Helper()
	s.stop(syscall.SIGTERM)
}

// Kill kills the server at once, as a crash would.
func (s *Server) Kill() {
	s.tb.Helper()
	s.stop(syscall.SIGKILL)
}

func (s *Server) stop(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts the server again, on the same socket and port, after Stop or Kill (or stops
// it first).
func (s *Server) Restart() {
	s.tb.Helper()
	s.stop(syscall.SIGTERM)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.tb.Fatal(err)
	}
	if err := s.launch(bin, s.port); err != nil {
		s.tb.Fatalf("restart redis-server: %v", err)
	}
}
