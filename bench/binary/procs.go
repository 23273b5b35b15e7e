package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a child process this benchmark started, with its output in a
// log file of the work folder.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start runs args in its own process group, stdout and stderr in
// dir/name.log; with addrOut it also returns the first line the process
// prints on stdout (a no-op server's address).
func start(dir, name string, env []string, addrOut bool, args ...string) (*proc, string, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = f
	cmd.Stdout = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout io.ReadCloser
	if addrOut {
		cmd.Stdout = nil
		if stdout, err = cmd.StdoutPipe(); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("start %s: %w", name, err)
		}
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("start %s (%s): %w", name, args[0], err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	var first string
	if addrOut {
		line := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			if sc.Scan() {
				line <- sc.Text()
			}
			close(line)
			_, _ = io.Copy(f, stdout)
		}()
		select {
		case first = <-line:
		case <-time.After(30 * time.Second):
		}
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	if addrOut && first == "" {
		p.stop()
		return nil, "", fmt.Errorf("%s printed no address (log %s)", name, logPath)
	}
	return p, first, nil
}

// stop sends SIGTERM to the process group, then SIGKILL after 5 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail is the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 1500 {
		s = "..." + s[len(s)-1500:]
	}
	return s
}

// waitHTTP polls url until it answers want, the process exits, or 60 s pass.
func waitHTTP(ctx context.Context, p *proc, url string, want int) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.tail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s did not answer %d within 60s\n%s", p.name, url, want, p.tail())
}

// freeAddr returns a free loopback address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// procs stops every process it holds, last started first.
type procs []*proc

func (ps *procs) add(p *proc) { *ps = append(*ps, p) }

func (ps procs) stopAll() {
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].stop()
	}
}
